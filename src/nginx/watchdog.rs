//! A worker's watchdog tick for `lua_max_run_time`: a POSIX interval timer
//! that sends `SIGVTALRM` to the worker's event-loop thread while Lua code
//! runs, and whose handler runs the runtime's check.
//!
//! No thread: a second thread would make glibc take its multi-threaded
//! paths (locked malloc arenas, cancellation bookkeeping around every
//! system call), about 1% of a small request. The timer is armed by the
//! first step after an idle spell ([`arm`], one system call) and disarmed
//! by the handler itself once no Lua code has run for a while
//! ([`disarm`]), so an idle worker gets no signal.
//!
//! nginx uses neither the signal nor a timer of its own on it (its
//! `timer_resolution` uses `SIGALRM`, `jit.profile` uses `SIGPROF`). A tick
//! that lands in `epoll_wait` makes it fail with EINTR, which nginx logs
//! unless its own timer alarm flag is set: the handler sets that flag, as
//! nginx's `SIGALRM` handler does, so nginx only updates its time. Other
//! system calls are restarted (`SA_RESTART`). The handler runs between two
//! instructions of the event-loop thread: the check it calls may only
//! touch atomics and call async-signal-safe functions.
use core::ffi::c_int;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use crate::nginx::panic::guard;

const SIGNAL: c_int = libc::SIGVTALRM;

/// The runtime's check (an `fn()` as usize; 0 = none).
static ON_TICK: AtomicUsize = AtomicUsize::new(0);
/// The timer (`timer_t`, which may well be 0: the kernel numbers a
/// process's timers from 0), valid once CREATED.
static TIMER: AtomicPtr<libc::c_void> = AtomicPtr::new(ptr::null_mut());
static CREATED: AtomicBool = AtomicBool::new(false);
static TICK_NS: AtomicUsize = AtomicUsize::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: c_int) {
    guard((), || {
        // SAFETY: nginx's own flag for its SIGALRM, a sig_atomic_t that
        // signal handlers set; see the module comment.
        unsafe { nginx_sys::ngx_event_timer_alarm = 1 };
        let f = ON_TICK.load(SeqCst);
        if f != 0 {
            // SAFETY: only start() stores, and it stores an fn() pointer.
            let f: fn() = unsafe { core::mem::transmute::<usize, fn()>(f) };
            f();
        }
    })
}

/// Makes the (disarmed) timer of this worker process: [`arm`] starts it
/// ticking every `tick`, each tick calls `on_tick` on the calling
/// (event-loop) thread in signal context. Errors are the OS's, as text.
pub fn start(tick: Duration, on_tick: fn()) -> Result<(), String> {
    if CREATED.load(SeqCst) {
        return Ok(());
    }
    ON_TICK.store(on_tick as usize, SeqCst);
    TICK_NS.store(tick.as_nanos().max(1) as usize, SeqCst);
    // SAFETY: zeroed sigaction/sigevent are valid empty ones; the calls
    // get pointers to them and to a timer_t slot; the handler is a plain
    // extern "C" fn that never unwinds (guard). SIGEV_THREAD_ID with our
    // own thread id: the signal goes to the event-loop thread only.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(SIGNAL, &sa, ptr::null_mut()) != 0 {
            return Err(format!(
                "sigaction() failed: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut sev: libc::sigevent = core::mem::zeroed();
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = SIGNAL;
        sev.sigev_notify_thread_id = libc::gettid();
        let mut timer: libc::timer_t = ptr::null_mut();
        if libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut timer) != 0 {
            return Err(format!(
                "timer_create() failed: {}",
                std::io::Error::last_os_error()
            ));
        }
        TIMER.store(timer, SeqCst);
        CREATED.store(true, SeqCst);
    }
    Ok(())
}

fn set(ns: usize) {
    if !CREATED.load(SeqCst) {
        return;
    }
    let timer = TIMER.load(SeqCst);
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    let spec = libc::itimerspec {
        it_interval: ts,
        it_value: ts,
    };
    // SAFETY: a timer start() made; timer_settime is async-signal-safe
    // (disarm runs in the handler).
    unsafe { libc::timer_settime(timer, 0, &spec, ptr::null_mut()) };
}

/// Starts the ticks, unless they run (a system call only then).
#[inline]
pub fn arm() {
    if !ARMED.load(SeqCst) {
        ARMED.store(true, SeqCst);
        set(TICK_NS.load(SeqCst));
    }
}

/// Stops the ticks (from the tick handler: async-signal-safe).
pub fn disarm() {
    ARMED.store(false, SeqCst);
    set(0);
}

/// Deletes the timer and ignores the signal from here on: the worker is
/// exiting, and nginx unloads the module before the process ends, so a
/// late tick must not find the handler's address gone.
pub fn stop() {
    if !CREATED.swap(false, SeqCst) {
        return;
    }
    ARMED.store(false, SeqCst);
    ON_TICK.store(0, SeqCst);
    // SAFETY: the timer start() made (CREATED was set), deleted once;
    // SIG_IGN is a valid disposition, and a signal already pending is
    // then discarded.
    unsafe {
        libc::timer_delete(TIMER.load(SeqCst));
        libc::signal(SIGNAL, libc::SIG_IGN);
    }
}
