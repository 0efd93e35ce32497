/*
 * mockeagain: an LD_PRELOAD shim for the test harness
 * (TEST_NGINX_MOCKEAGAIN, see t/README.md) that makes socket I/O of nginx
 * as partial as the kernel may legally make it: every recv/read/readv and
 * send/write/writev on a non-blocking stream socket moves at most one
 * byte, or fails with EAGAIN at random (seeded). Code that assumes a read
 * or a write completes in one call, or that a short read means "drained",
 * breaks under it.
 *
 *   MOCKEAGAIN=r | w | rw        which directions (default rw)
 *   MOCKEAGAIN_SEED=N            the PRNG seed (default 1)
 *   MOCKEAGAIN_EAGAIN=P          percent of calls that fail with EAGAIN
 *                                instead of moving a byte (default 30)
 *   MOCKEAGAIN_MAX=N             move 1 to N bytes (random) instead of
 *                                one (default 1)
 *
 * nginx uses epoll in edge-triggered mode: after a faked EAGAIN, or a
 * short read or write that left the socket ready, the kernel reports no
 * new edge and the connection would stall. So the shim also wraps
 * epoll_ctl (to learn each descriptor's registered events and data),
 * close, and epoll_wait: the next epoll_wait after a mocked call returns at
 * once and reports the descriptor ready in that direction, as the kernel
 * would have when the held-back bytes "arrived" or the send buffer
 * "drained". Level-triggered poll needs nothing of the kind. Never two
 * faked EAGAINs in a row on one descriptor, so every other call makes
 * progress.
 *
 * Datagram sockets, blocking descriptors and everything that is not a
 * socket (files, pipes, the log) pass through untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536

static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_readv)(int, const struct iovec *, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_close)(int);
static int (*real_epoll_ctl)(int, int, int, struct epoll_event *);
static int (*real_epoll_wait)(int, struct epoll_event *, int, int);

static int mock_reads = 1, mock_writes = 1, eagain_pct = 30;
static size_t max_bytes = 1;
static unsigned long long rng_state = 1;
/* per descriptor: the last call was a faked EAGAIN */
static unsigned char faked[MAX_FDS];
/* Bytes that MSG_PEEK calls have shown on a socket: they have "arrived",
 * so a later peek shows at least as many (plus a cut more), and reads use
 * them up. A reader that peeks until a whole message is there (the
 * ClientHello of ssl_certificate_by_lua*) then progresses as with the
 * kernel instead of seeing one byte forever. */
static size_t shown[MAX_FDS];

/* per descriptor: what epoll_ctl registered, and the readiness (EPOLLIN,
 * EPOLLOUT) owed to the next epoll_wait */
static struct {
    int set;
    uint32_t events;
    epoll_data_t data;
} reg[MAX_FDS];
static uint32_t owed[MAX_FDS];
static int owed_fds[MAX_FDS];
static int nowed;

__attribute__((constructor)) static void mockeagain_init(void)
{
    const char *m = getenv("MOCKEAGAIN");
    const char *seed = getenv("MOCKEAGAIN_SEED");
    const char *pct = getenv("MOCKEAGAIN_EAGAIN");

    real_recv = (ssize_t (*)(int, void *, size_t, int)) dlsym(RTLD_NEXT, "recv");
    real_read = (ssize_t (*)(int, void *, size_t)) dlsym(RTLD_NEXT, "read");
    real_readv = (ssize_t (*)(int, const struct iovec *, int)) dlsym(RTLD_NEXT, "readv");
    real_send = (ssize_t (*)(int, const void *, size_t, int)) dlsym(RTLD_NEXT, "send");
    real_write = (ssize_t (*)(int, const void *, size_t)) dlsym(RTLD_NEXT, "write");
    real_writev = (ssize_t (*)(int, const struct iovec *, int)) dlsym(RTLD_NEXT, "writev");
    real_close = (int (*)(int)) dlsym(RTLD_NEXT, "close");
    real_epoll_ctl = (int (*)(int, int, int, struct epoll_event *)) dlsym(RTLD_NEXT, "epoll_ctl");
    real_epoll_wait = (int (*)(int, struct epoll_event *, int, int)) dlsym(RTLD_NEXT, "epoll_wait");

    if (m != NULL && *m != '\0') {
        mock_reads = strchr(m, 'r') != NULL;
        mock_writes = strchr(m, 'w') != NULL;
    }
    if (seed != NULL) {
        rng_state = strtoull(seed, NULL, 10);
    }
    if (rng_state == 0) {
        rng_state = 1;
    }
    if (pct != NULL) {
        eagain_pct = atoi(pct);
    }
    if (getenv("MOCKEAGAIN_MAX") != NULL && atoi(getenv("MOCKEAGAIN_MAX")) > 1) {
        max_bytes = (size_t) atoi(getenv("MOCKEAGAIN_MAX"));
    }
}

static unsigned next_rand(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned) ((rng_state * 2685821657736338717ULL) >> 32);
}

/* A non-blocking stream socket: the only kind we make partial. */
static int mocked(int fd)
{
    struct stat st;
    int type, flags, saved = errno;
    socklen_t len = sizeof(type);

    if (fd < 0 || fd >= MAX_FDS || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        errno = saved;
        return 0;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags == -1 || !(flags & O_NONBLOCK)
        || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
    {
        errno = saved;
        return 0;
    }
    errno = saved;
    return 1;
}

static void owe(int fd, uint32_t what)
{
    if (owed[fd] == 0) {
        owed_fds[nowed++] = fd;
    }
    owed[fd] |= what;
}

/* 1: fail this call with EAGAIN (and owe the next epoll_wait a
 * readiness event for `what`); 0: move at most one byte. */
static int fake_eagain(int fd, uint32_t what)
{
    if (faked[fd]) {
        faked[fd] = 0;
        return 0;
    }
    if ((int) (next_rand() % 100) < eagain_pct) {
        faked[fd] = 1;
        owe(fd, what);
        errno = EAGAIN;
        return 1;
    }
    return 0;
}

/* The result of a cut-short call: bytes moved mean more may be waiting
 * (or room left), which the kernel would announce with a new edge, so the
 * next epoll_wait reports it. A real EAGAIN, an error or an end of file
 * owe nothing: the kernel's own edge will come, or none is due. */
static ssize_t moved(int fd, uint32_t what, ssize_t n)
{
    if (n > 0) {
        owe(fd, what);
    }
    return n;
}

/* Reads use up what peeks showed. */
static ssize_t used(int fd, ssize_t n)
{
    if (n > 0) {
        shown[fd] = (size_t) n >= shown[fd] ? 0 : shown[fd] - (size_t) n;
    }
    return n;
}

/* How many bytes a mocked call moves: 1, or 1 to MOCKEAGAIN_MAX. */
static size_t cut(size_t len)
{
    size_t n = max_bytes > 1 ? 1 + next_rand() % max_bytes : 1;

    return n < len ? n : len;
}

/* The first non-empty buffer of an iovec, cut short. */
static int first_byte(const struct iovec *iov, int cnt, struct iovec *one)
{
    int i;

    for (i = 0; i < cnt; i++) {
        if (iov[i].iov_len > 0) {
            one->iov_base = iov[i].iov_base;
            one->iov_len = cut(iov[i].iov_len);
            return 1;
        }
    }
    return 0;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    if (!mock_reads || len == 0 || !mocked(fd)) {
        return real_recv(fd, buf, len, flags);
    }
    if (fake_eagain(fd, EPOLLIN)) {
        return -1;
    }
    if (flags & MSG_PEEK) {
        size_t want = shown[fd] + cut(len);
        ssize_t n = real_recv(fd, buf, want < len ? want : len, flags);

        if (n > 0) {
            shown[fd] = (size_t) n;
        }
        return moved(fd, EPOLLIN, n);
    }
    return moved(fd, EPOLLIN, used(fd, real_recv(fd, buf, cut(len), flags)));
}

ssize_t read(int fd, void *buf, size_t len)
{
    if (!mock_reads || len == 0 || !mocked(fd)) {
        return real_read(fd, buf, len);
    }
    if (fake_eagain(fd, EPOLLIN)) {
        return -1;
    }
    return moved(fd, EPOLLIN, used(fd, real_read(fd, buf, cut(len))));
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    struct iovec one;

    if (!mock_reads || !mocked(fd) || !first_byte(iov, cnt, &one)) {
        return real_readv(fd, iov, cnt);
    }
    if (fake_eagain(fd, EPOLLIN)) {
        return -1;
    }
    return moved(fd, EPOLLIN, used(fd, real_readv(fd, &one, 1)));
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    if (!mock_writes || len == 0 || !mocked(fd)) {
        return real_send(fd, buf, len, flags);
    }
    if (fake_eagain(fd, EPOLLOUT)) {
        return -1;
    }
    return moved(fd, EPOLLOUT, real_send(fd, buf, cut(len), flags));
}

ssize_t write(int fd, const void *buf, size_t len)
{
    if (!mock_writes || len == 0 || !mocked(fd)) {
        return real_write(fd, buf, len);
    }
    if (fake_eagain(fd, EPOLLOUT)) {
        return -1;
    }
    return moved(fd, EPOLLOUT, real_write(fd, buf, cut(len)));
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    struct iovec one;

    if (!mock_writes || !mocked(fd) || !first_byte(iov, cnt, &one)) {
        return real_writev(fd, iov, cnt);
    }
    if (fake_eagain(fd, EPOLLOUT)) {
        return -1;
    }
    return moved(fd, EPOLLOUT, real_writev(fd, &one, 1));
}

int close(int fd)
{
    if (fd >= 0 && fd < MAX_FDS) {
        reg[fd].set = 0;
        owed[fd] = 0;
        faked[fd] = 0;
        shown[fd] = 0;
    }
    return real_close(fd);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    int rc = real_epoll_ctl(epfd, op, fd, ev);

    if (rc == 0 && fd >= 0 && fd < MAX_FDS) {
        if (op == EPOLL_CTL_DEL || ev == NULL) {
            reg[fd].set = 0;
            owed[fd] = 0;
        } else {
            reg[fd].set = 1;
            reg[fd].events = ev->events;
            reg[fd].data = ev->data;
        }
    }
    return rc;
}

int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
    int n, i, j, fd, left = 0;
    uint32_t what;

    if (nowed == 0) {
        return real_epoll_wait(epfd, evs, max, timeout);
    }
    n = real_epoll_wait(epfd, evs, max, 0);
    if (n < 0) {
        return n;
    }
    for (i = 0; i < nowed; i++) {
        fd = owed_fds[i];
        what = owed[fd] & (reg[fd].set ? reg[fd].events : 0) & (EPOLLIN | EPOLLOUT);
        if (what == 0) {
            owed[fd] = 0;
            continue;
        }
        for (j = 0; j < n; j++) {
            if (evs[j].data.u64 == reg[fd].data.u64) {
                evs[j].events |= what;
                break;
            }
        }
        if (j == n) {
            if (n == max) {
                /* no room this time: keep owing */
                owed_fds[left++] = fd;
                continue;
            }
            evs[n].events = what;
            evs[n].data = reg[fd].data;
            n++;
        }
        owed[fd] = 0;
    }
    /* owed_fds[0..left) holds the ones kept for the next call */
    nowed = left;
    if (n == 0 && timeout != 0) {
        /* nothing owed was deliverable: wait as asked (nginx takes an
         * empty return from an infinite wait for a kernel bug) */
        return epoll_wait(epfd, evs, max, timeout);
    }
    return n;
}
