//! Forking and executing a child with its stdin, stdout and stderr on
//! pipes.
//!
//! The worker may have threads (nginx's thread pools), so the child only
//! makes async-signal-safe calls between `fork` and `exec`: everything it
//! needs (argv, environ, the log line prefix) is prepared before the fork,
//! and nothing in it allocates. It starts with default signal
//! dispositions and an empty mask (nginx ignores SIGPIPE and blocks
//! signals in places), and with every descriptor above stderr closed
//! (`close_range`) except a close-on-exec copy of the error log, through
//! which it reports a failed `exec` in nginx's log format.
use core::ffi::{c_char, c_int, CStr};
use core::ptr;

use nginx_sys::*;

use super::sigchld;

pub struct Command<'a> {
    pub file: &'a CStr,
    /// NULL-terminated, as `execvp` takes it.
    pub argv: *const *const c_char,
    /// NULL-terminated, or null for the worker's own environment.
    pub envp: *const *const c_char,
    pub cwd: Option<&'a CStr>,
    pub merge_stderr: bool,
}

pub struct Child {
    pub pid: i32,
    /// Our ends: write to the child's stdin, read its stdout and stderr
    /// (-1 when merged into stdout); non-blocking, close-on-exec.
    pub stdin: i32,
    pub stdout: i32,
    pub stderr: i32,
}

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn strerror(e: c_int) -> String {
    std::io::Error::from_raw_os_error(e)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string()
}

fn close_all(fds: &[c_int]) {
    for &fd in fds {
        if fd >= 0 {
            // SAFETY: fds we opened and own.
            unsafe { libc::close(fd) };
        }
    }
}

/// A fixed buffer the child formats its log line into, without
/// allocating.
struct Line {
    buf: [u8; 1024],
    len: usize,
}

impl Line {
    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_num(&mut self, mut v: i64) {
        let mut d = [0u8; 20];
        let mut i = d.len();
        let neg = v < 0;
        if neg {
            v = -v;
        }
        loop {
            i -= 1;
            d[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if neg {
            self.push(b"-");
        }
        self.push(&d[i..]);
    }
}

extern "C" {
    /// glibc: the untranslated description of an errno, from a static
    /// table (async-signal-safe, unlike `strerror`).
    fn strerrordesc_np(e: c_int) -> *const c_char;
}

/// What the child needs to log a failed exec, prepared in the parent.
struct LogPrep {
    fd: c_int,
    time: [u8; 32],
    time_len: usize,
}

fn log_prep() -> LogPrep {
    let mut p = LogPrep {
        fd: -1,
        time: [0; 32],
        time_len: 0,
    };
    // SAFETY: the cycle's log chain and nginx's cached log time string
    // (updated by this thread only).
    unsafe {
        let l = ngx_log_get_file_log((*ngx_cycle).log);
        if !l.is_null() && !(*l).file.is_null() {
            p.fd = (*(*l).file).fd;
        }
        let t = &*ptr::addr_of!(ngx_cached_err_log_time);
        if !t.data.is_null() {
            let n = t.len.min(p.time.len());
            p.time[..n].copy_from_slice(core::slice::from_raw_parts(t.data, n));
            p.time_len = n;
        }
    }
    p
}

/// Forks and executes `cmd`; `slot` (from `sigchld::reserve`) gets the
/// child's pid before SIGCHLD can arrive. Upstream's error texts.
pub fn spawn(cmd: &Command, slot: usize) -> Result<Child, String> {
    let mut pipes = [[-1 as c_int; 2]; 3];
    let n = if cmd.merge_stderr { 2 } else { 3 };
    for p in pipes.iter_mut().take(n) {
        // SAFETY: pipe2 fills the two fds.
        if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            let e = errno();
            close_all(pipes.as_flattened());
            return Err(format!("pipe failed: {}", strerror(e)));
        }
    }
    let [inp, out, err] = pipes;
    let log = log_prep();
    let pid = sigchld::blocked(|| {
        // SAFETY: fork; the child branch never returns (child()).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child; see child()'s contract.
            unsafe { child(cmd, inp, out, err, &log) }
        }
        if pid > 0 {
            sigchld::started(slot, pid);
        }
        pid
    });
    if pid < 0 {
        let e = errno();
        close_all(pipes.as_flattened());
        return Err(format!("fork failed: {}", strerror(e)));
    }
    close_all(&[inp[0], out[1], err[1]]);
    for fd in [inp[1], out[0], err[0]] {
        if fd >= 0 {
            // SAFETY: our end of a pipe.
            unsafe {
                let fl = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
        }
    }
    Ok(Child {
        pid,
        stdin: inp[1],
        stdout: out[0],
        stderr: err[0],
    })
}

/// Sets up the child's descriptors and signals and executes the command;
/// never returns.
///
/// # Safety
/// Called right after `fork` in the child; only async-signal-safe calls.
unsafe fn child(
    cmd: &Command,
    inp: [c_int; 2],
    out: [c_int; 2],
    err: [c_int; 2],
    log: &LogPrep,
) -> ! {
    // SAFETY: plain syscalls on our descriptors and local structures.
    unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, ptr::null_mut());
        let mut dfl: libc::sigaction = core::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &dfl, ptr::null_mut());
            }
        }
        // The error log, out of the way of 0-2 before they are replaced.
        let logfd = if log.fd >= 0 {
            libc::fcntl(log.fd, libc::F_DUPFD_CLOEXEC, 3)
        } else {
            -1
        };
        let stderr_src = if cmd.merge_stderr { out[1] } else { err[1] };
        for (src, dst) in [(inp[0], 0), (out[1], 1), (stderr_src, 2)] {
            if src == dst {
                libc::fcntl(dst, libc::F_SETFD, 0);
            } else {
                libc::dup2(src, dst);
            }
        }
        let mut first_closed = 3;
        if logfd >= 0 {
            if logfd != 3 {
                libc::dup3(logfd, 3, libc::O_CLOEXEC);
            }
            first_closed = 4;
        }
        if libc::close_range(first_closed, u32::MAX, 0) != 0 {
            let max = libc::sysconf(libc::_SC_OPEN_MAX).max(1024) as c_int;
            for fd in first_closed as c_int..max {
                libc::close(fd);
            }
        }
        let logfd = if logfd >= 0 { 3 } else { -1 };
        if let Some(dir) = cmd.cwd {
            if libc::chdir(dir.as_ptr()) != 0 {
                fail(log, logfd, b"chdir", dir);
            }
        }
        if cmd.envp.is_null() {
            libc::execvp(cmd.file.as_ptr(), cmd.argv);
            fail(log, logfd, b"execvp", cmd.file)
        } else {
            libc::execvpe(cmd.file.as_ptr(), cmd.argv, cmd.envp);
            fail(log, logfd, b"execvpe", cmd.file)
        }
    }
}

/// Logs upstream's line for a failed call in the child and exits with 1.
///
/// # Safety
/// In the child after fork: only async-signal-safe calls.
unsafe fn fail(log: &LogPrep, fd: c_int, call: &[u8], what: &CStr) -> ! {
    // SAFETY: see the contract.
    unsafe {
        let e = *libc::__errno_location();
        if fd >= 0 {
            let mut l = Line {
                buf: [0; 1024],
                len: 0,
            };
            let pid = libc::getpid() as i64;
            l.push(&log.time[..log.time_len]);
            l.push(b" [error] ");
            l.push_num(pid);
            l.push(b"#");
            l.push_num(pid);
            l.push(b": lua pipe child ");
            l.push(call);
            l.push(b"() failed while executing ");
            l.push(what.to_bytes());
            l.push(b" (");
            l.push_num(e as i64);
            l.push(b": ");
            let d = strerrordesc_np(e);
            if !d.is_null() {
                l.push(CStr::from_ptr(d).to_bytes());
            }
            l.push(b")\n");
            libc::write(fd, l.buf.as_ptr() as *const libc::c_void, l.len);
        }
        libc::_exit(1)
    }
}
