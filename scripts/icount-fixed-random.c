/*
 * LD_PRELOAD shim for scripts/bench --icount: answers getrandom (the libc
 * function and the raw syscall through syscall(2)) with a fixed byte stream
 * seeded from NGX_LUA_ICOUNT_SEED, so that runs with the same seed draw the
 * same "random" numbers.
 *
 * Why: LuaJIT seeds its PRNG from getrandom and uses it for the addresses it
 * asks mmap for (its allocator and its machine-code area) and for the
 * penalties of aborted traces, so which traces get compiled, and when, differs
 * from run to run; Rust's HashMap keys come from the same source. With the
 * seed fixed, the instruction counts of two runs agree to a few hundred
 * instructions in tens of millions. One seed can still be unlucky (a hot
 * path left to the interpreter), which is why scripts/bench takes the median
 * over several seeds. Never used outside the benchmark.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/types.h>

static uint64_t state;

__attribute__((constructor)) static void seed(void)
{
    const char *s = getenv("NGX_LUA_ICOUNT_SEED");
    state = s ? strtoull(s, NULL, 0) : 1;
}

/* splitmix64: any fixed stream will do; this one is short and well mixed. */
static void fill(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (int i = 0; i < 8 && len > 0; i++, len--) {
            *p++ = (unsigned char)(z >> (8 * i));
        }
    }
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    (void)flags;
    fill(buf, len);
    return (ssize_t)len;
}

long syscall(long number, ...)
{
    static long (*real)(long, ...);
    long a[6];
    va_list ap;

    va_start(ap, number);
    for (int i = 0; i < 6; i++) {
        a[i] = va_arg(ap, long);
    }
    va_end(ap);
    if (number == SYS_getrandom) {
        fill((void *)a[0], (size_t)a[1]);
        return a[1];
    }
    if (real == NULL) {
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    }
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
