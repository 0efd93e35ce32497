//! A worker's watchdog thread and the signal it interrupts the worker's
//! event-loop thread with (`lua_max_run_time`).
//!
//! The thread wakes every tick and asks its check function (the runtime's
//! bookkeeping, read through atomics) what to do: nothing, interrupt the
//! event-loop thread, or sleep until [`wake`]. An interrupt is a
//! `SIGVTALRM` sent to that thread alone (`pthread_kill`); nginx uses
//! neither that signal nor timers of its own on it (its
//! `timer_resolution` uses `SIGALRM`, `jit.profile` uses `SIGPROF`). The
//! handler runs on the event-loop thread, between two of its instructions,
//! so what it calls must be async-signal-safe: the runtime's handler only
//! reads atomics and sets a LuaJIT hook, which LuaJIT documents as safe
//! from a signal handler.
//!
//! No signal is sent while nothing overruns, and the thread sleeps for
//! good after a second without Lua code running, so an idle worker is
//! never woken: nothing interrupts nginx's `epoll_wait`.
use core::ffi::c_int;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::Duration;

use crate::nginx::panic::guard;

/// What the check function wants after a tick.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tick {
    Nothing,
    /// Signal the event-loop thread (again on each tick while it says so).
    Interrupt,
    /// Sleep until [`wake`].
    Park,
}

const SIGNAL: c_int = libc::SIGVTALRM;

/// The event-loop thread's handler (an `fn()` as usize; 0 = none).
static ON_SIGNAL: AtomicUsize = AtomicUsize::new(0);
/// The watchdog thread, for [`wake`].
static THREAD: OnceLock<Thread> = OnceLock::new();

extern "C" fn on_signal(_sig: c_int) {
    guard((), || {
        let f = ON_SIGNAL.load(Ordering::Acquire);
        if f != 0 {
            // SAFETY: only start() stores, and it stores an fn() pointer.
            let f: fn() = unsafe { core::mem::transmute::<usize, fn()>(f) };
            f();
        }
    })
}

/// Starts the watchdog in this (worker) process: `check` runs on the
/// watchdog thread every `tick`; `on_interrupt` runs on the calling
/// (event-loop) thread, in signal context, when `check` asks for it.
/// Errors are the OS's, as text for the log.
pub fn start(
    tick: Duration,
    mut check: impl FnMut() -> Tick + Send + 'static,
    on_interrupt: fn(),
) -> Result<(), String> {
    if THREAD.get().is_some() {
        return Ok(());
    }
    ON_SIGNAL.store(on_interrupt as usize, Ordering::Release);
    // SAFETY: a zeroed sigaction is a valid empty one; sigemptyset and
    // sigaction get pointers to it; the handler is a plain extern "C" fn
    // that never unwinds (guard). SA_RESTART: a system call the signal
    // lands in (a write of ngx.say's) is restarted, not failed.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(SIGNAL, &sa, core::ptr::null_mut()) != 0 {
            return Err(format!(
                "sigaction() failed: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // SAFETY: pthread_self has no preconditions.
    let main = unsafe { libc::pthread_self() } as usize;
    let spawned = std::thread::Builder::new()
        .name("lua watchdog".into())
        .stack_size(64 * 1024)
        .spawn(move || loop {
            std::thread::sleep(tick);
            match check() {
                Tick::Nothing => {}
                // SAFETY: the event-loop thread lives as long as the
                // process; SIGNAL has our handler installed.
                Tick::Interrupt => unsafe {
                    libc::pthread_kill(main as libc::pthread_t, SIGNAL);
                },
                Tick::Park => std::thread::park(),
            }
        })
        .map_err(|e| format!("failed to start the watchdog thread: {e}"))?;
    let _ = THREAD.set(spawned.thread().clone());
    Ok(())
}

/// Wakes a parked watchdog (a futex wake: only called when it parked).
pub fn wake() {
    if let Some(t) = THREAD.get() {
        t.unpark();
    }
}
