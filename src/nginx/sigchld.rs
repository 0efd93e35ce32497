//! Reaping the children `ngx.pipe` spawns, on a stock nginx.
//!
//! nginx's own SIGCHLD handler calls `waitpid(-1)` in every process, which
//! in a worker would take our children's exit statuses away. Our handler,
//! installed in the worker on the first spawn, reaps only the children in
//! its table (a fixed array of atomics, so the handler needs no lock):
//! it peeks at the next zombie with `waitid(WNOWAIT)` and reaps it by pid
//! when it is ours. When a zombie that is not ours turns up (another
//! module's child), it first reaps ours by pid, then calls the handler it
//! replaced, so nginx's handling of its own children keeps working. It then
//! writes a byte to a pipe that an nginx connection watches, and the event
//! loop delivers the statuses (`reap`).
use core::ffi::c_int;
use core::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::nginx::fd_conn::FdConn;
use crate::nginx::global::Worker;
use crate::nginx::panic::guard;

/// How many children may be alive (or not yet delivered) at once.
pub const MAX_CHILDREN: usize = 4096;

const FREE: u8 = 0;
/// Taken by a spawn that has not forked yet.
const RESERVED: u8 = 1;
const RUNNING: u8 = 2;
/// Reaped by our handler; `status` holds the wait status.
const EXITED: u8 = 3;
/// Reaped by someone else (nginx's handler, in the instant between our
/// scan and its `waitpid(-1)`): the status is unknown.
const LOST: u8 = 4;

struct Slot {
    pid: AtomicI32,
    status: AtomicI32,
    state: AtomicU8,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    pid: AtomicI32::new(0),
    status: AtomicI32::new(0),
    state: AtomicU8::new(FREE),
};
static SLOTS: [Slot; MAX_CHILDREN] = [EMPTY; MAX_CHILDREN];

/// The write end of the notification pipe.
static NOTIFY: AtomicI32 = AtomicI32::new(-1);

/// The disposition our handler replaced, to chain to.
static PREV: OnceLock<libc::sigaction> = OnceLock::new();

/// How a reaped child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    Unknown(i32),
}

impl Exit {
    fn from_status(st: i32) -> Exit {
        if libc::WIFEXITED(st) {
            Exit::Code(libc::WEXITSTATUS(st))
        } else if libc::WIFSIGNALED(st) {
            Exit::Signal(libc::WTERMSIG(st))
        } else {
            Exit::Unknown(st)
        }
    }
}

/// Takes a free slot for a child about to be spawned.
pub fn reserve() -> Option<usize> {
    SLOTS.iter().position(|s| {
        s.state
            .compare_exchange(FREE, RESERVED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    })
}

/// A reserved slot whose spawn failed.
pub fn release(slot: usize) {
    SLOTS[slot].pid.store(0, Ordering::Relaxed);
    SLOTS[slot].state.store(FREE, Ordering::Release);
}

/// Records the forked child's pid (with SIGCHLD blocked, see [`blocked`]).
pub fn started(slot: usize, pid: i32) {
    SLOTS[slot].pid.store(pid, Ordering::Relaxed);
    SLOTS[slot].state.store(RUNNING, Ordering::Release);
}

/// Whether the child of `slot` has been reaped (its pid may be reused).
pub fn reaped(slot: usize) -> bool {
    matches!(SLOTS[slot].state.load(Ordering::Acquire), EXITED | LOST)
}

/// Sends `sig` to the child of `slot` unless it has been reaped (then its
/// pid may belong to another process by now): `Ok(false)` when it was
/// reaped, the `kill(2)` errno on failure.
pub fn kill(slot: usize, sig: i32) -> Result<bool, i32> {
    // With SIGCHLD blocked in the event-loop thread (nginx's thread-pool
    // threads block every signal), the handler cannot reap it meanwhile.
    blocked(|| {
        let s = &SLOTS[slot];
        if s.state.load(Ordering::Acquire) != RUNNING {
            return Ok(false);
        }
        // SAFETY: a child of ours that has not been reaped.
        if unsafe { libc::kill(s.pid.load(Ordering::Relaxed), sig) } == 0 {
            Ok(true)
        } else {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        }
    })
}

/// Runs `f` (a fork) with SIGCHLD blocked in this thread, so the handler
/// cannot run before the child's pid is in the table.
pub fn blocked<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask with
    // valid pointers.
    unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        let r = f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut());
        r
    }
}

fn find(pid: i32) -> Option<&'static Slot> {
    SLOTS.iter().find(|s| {
        s.state.load(Ordering::Acquire) == RUNNING && s.pid.load(Ordering::Relaxed) == pid
    })
}

/// Reaps the child of `s` if it has exited; true when it was reaped (by
/// us or, as far as we can tell, by someone else).
fn reap_slot(s: &Slot) -> bool {
    let pid = s.pid.load(Ordering::Relaxed);
    let mut st: c_int = 0;
    // SAFETY: waitpid on a pid of ours with a local status word.
    let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
    if r == pid {
        s.status.store(st, Ordering::Relaxed);
        s.state.store(EXITED, Ordering::Release);
        true
    } else if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
        s.state.store(LOST, Ordering::Release);
        true
    } else {
        false
    }
}

/// The signal handler. Only async-signal-safe calls: waitid, waitpid,
/// write, atomics; errno is restored.
extern "C" fn on_sigchld(sig: c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    guard((), || {
        // SAFETY: errno is thread-local; the location is valid in a handler.
        let saved = unsafe { *libc::__errno_location() };
        let mut reaped = false;
        let mut foreign = false;
        loop {
            // SAFETY: waitid with a local siginfo; WNOWAIT leaves the zombie.
            let pid = unsafe {
                let mut si: libc::siginfo_t = core::mem::zeroed();
                let r = libc::waitid(
                    libc::P_ALL,
                    0,
                    &mut si,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                );
                if r != 0 {
                    break;
                }
                si.si_pid()
            };
            if pid == 0 {
                break;
            }
            match find(pid) {
                Some(s) => reaped |= reap_slot(s),
                None => {
                    foreign = true;
                    break;
                }
            }
        }
        if foreign {
            // Ours may be queued behind the other zombie: reap them by pid
            // before the previous handler's waitpid(-1) takes everything.
            for s in SLOTS.iter() {
                if s.state.load(Ordering::Acquire) == RUNNING {
                    reaped |= reap_slot(s);
                }
            }
        }
        if reaped {
            let fd = NOTIFY.load(Ordering::Relaxed);
            if fd >= 0 {
                // SAFETY: a one-byte write to our non-blocking pipe; a full
                // pipe already holds a pending notification.
                unsafe { libc::write(fd, b"c".as_ptr() as *const libc::c_void, 1) };
            }
        }
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = saved };
        if foreign {
            if let Some(prev) = PREV.get() {
                let h = prev.sa_sigaction;
                if h == libc::SIG_DFL || h == libc::SIG_IGN {
                    return;
                }
                // SAFETY: the handler that was installed before ours, called
                // with the arguments the kernel gave us, as its flags ask.
                unsafe {
                    if prev.sa_flags & libc::SA_SIGINFO != 0 {
                        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                            core::mem::transmute(h);
                        f(sig, info, uctx);
                    } else {
                        let f: extern "C" fn(c_int) = core::mem::transmute(h);
                        f(sig);
                    }
                }
            }
        }
    })
}

/// The notification pipe's read end, watched by the event loop.
static WATCH: Worker<Option<FdConn>> = Worker::new();

/// Installs the handler and the notification pipe in this process (once);
/// false (logged) when that failed.
pub fn install(on_reaped: fn(usize, i32, Exit)) -> bool {
    if WATCH.with(|w| w.is_some()) {
        return true;
    }
    ON_REAPED.get_or_init(|| on_reaped);
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 fills two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        crate::nginx::log::cycle(
            nginx_sys::NGX_LOG_ERR,
            format!(
                "lua pipe init SIGCHLD fd failed ({})",
                std::io::Error::last_os_error()
            )
            .as_bytes(),
        );
        return false;
    }
    let Some(conn) = FdConn::new(fds[0], core::ptr::null_mut(), on_notify, on_notify_write) else {
        // SAFETY: our fds.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        return false;
    };
    if !conn.arm(false, 0) {
        conn.close();
        // SAFETY: our fd.
        unsafe { libc::close(fds[1]) };
        return false;
    }
    NOTIFY.store(fds[1], Ordering::Relaxed);
    // SAFETY: reading the current disposition, then installing ours with
    // SA_SIGINFO (our handler's signature); PREV is set before ours can run.
    unsafe {
        let mut prev: libc::sigaction = core::mem::zeroed();
        libc::sigaction(libc::SIGCHLD, core::ptr::null(), &mut prev);
        let _ = PREV.set(prev);
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_sigchld as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_NOCLDSTOP;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGCHLD, &sa, core::ptr::null_mut()) != 0 {
            crate::nginx::log::cycle(
                nginx_sys::NGX_LOG_ERR,
                format!(
                    "lua pipe sigaction(SIGCHLD) failed ({})",
                    std::io::Error::last_os_error()
                )
                .as_bytes(),
            );
            return false;
        }
    }
    WATCH.with(|w| *w = Some(conn));
    true
}

/// Closes the notification pipe (the worker is exiting: nginx reports
/// connections left open).
pub fn shutdown() {
    if let Some(c) = WATCH.take().flatten() {
        c.close();
        let fd = NOTIFY.swap(-1, Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: our fd; the handler checks NOTIFY before writing.
            unsafe { libc::close(fd) };
        }
    }
}

static ON_REAPED: OnceLock<fn(usize, i32, Exit)> = OnceLock::new();

unsafe extern "C" fn on_notify_write(_ev: *mut nginx_sys::ngx_event_t) {
    guard((), || {})
}

/// The event loop's side: drains the pipe and delivers every reaped
/// child's status.
unsafe extern "C" fn on_notify(ev: *mut nginx_sys::ngx_event_t) {
    guard((), || {
        // SAFETY: the notification connection's read event.
        let fd = unsafe { (*((*ev).data as *mut nginx_sys::ngx_connection_t)).fd };
        let mut buf = [0u8; 64];
        // SAFETY: reading our non-blocking pipe into a local buffer.
        while unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) } > 0 {}
        deliver();
        // SAFETY: the event belongs to our live connection.
        unsafe {
            if nginx_sys::ngx_handle_read_event(ev, 0) != nginx_sys::NGX_OK as nginx_sys::ngx_int_t
            {
                crate::nginx::log::cycle(
                    nginx_sys::NGX_LOG_ALERT,
                    b"lua pipe: cannot watch SIGCHLD notifications",
                );
            }
        }
    })
}

/// Hands the statuses of reaped children to their owner and frees their
/// slots.
pub fn deliver() {
    let Some(cb) = ON_REAPED.get() else {
        return;
    };
    for (i, s) in SLOTS.iter().enumerate() {
        let state = s.state.load(Ordering::Acquire);
        if state != EXITED && state != LOST {
            continue;
        }
        let pid = s.pid.load(Ordering::Relaxed);
        let exit = if state == EXITED {
            Exit::from_status(s.status.load(Ordering::Relaxed))
        } else {
            Exit::Unknown(0)
        };
        release(i);
        cb(i, pid, exit);
    }
}
