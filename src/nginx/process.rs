//! nginx's process globals (`ngx_process`, `ngx_pid`, `ngx_parent`, the
//! `ngx_processes` table, `ngx_quit`), read and written through safe
//! functions.
//!
//! These globals belong to the process and are only written by nginx's
//! event-loop thread (and its signal handlers, which only set flags), so a
//! plain read from that thread is always valid.
use nginx_sys::*;

/// What kind of nginx process this is, as `ngx_process` says.
pub fn kind() -> u32 {
    // SAFETY: a process global, written before any module code runs.
    unsafe { ngx_process as u32 }
}

pub fn is_master() -> bool {
    kind() == NGX_PROCESS_MASTER
}

pub fn pid() -> i32 {
    // SAFETY: as kind().
    unsafe { ngx_pid }
}

/// The master's pid as this process knows it: `ngx_parent` in a child of
/// the master, the process itself in single-process mode.
pub fn master_pid() -> i32 {
    // SAFETY: as kind(); ngx_parent is set when the master forks.
    unsafe {
        if ngx_process as u32 == NGX_PROCESS_SINGLE {
            ngx_pid
        } else {
            ngx_parent
        }
    }
}

/// `master_process on` in the running cycle's core conf.
pub fn master_enabled() -> bool {
    // SAFETY: the running cycle, set before any module code runs.
    unsafe { master_enabled_in(ngx_cycle as *mut ngx_cycle_t) }
}

/// `master_process on` in `cycle`'s core conf.
///
/// # Safety
/// `cycle` is null or a cycle whose configuration was parsed.
pub unsafe fn master_enabled_in(cycle: *mut ngx_cycle_t) -> bool {
    // SAFETY: the caller's contract; the core conf exists once parsed.
    unsafe {
        if cycle.is_null() || (*cycle).conf_ctx.is_null() {
            return false;
        }
        let ccf = *(*cycle).conf_ctx.add(ngx_core_module.index) as *const ngx_core_conf_t;
        !ccf.is_null() && (*ccf).master != 0
    }
}

/// The pids of the worker processes this one knows of (itself included):
/// the entries of `ngx_processes` the master announced through their
/// channels, as upstream's `ngx.worker.pids` reads them.
pub fn sibling_pids(max: usize) -> Vec<i32> {
    let mut out = Vec::new();
    // SAFETY: ngx_processes is the process's own copy of the table, which
    // only its channel handler (on this thread) writes; ngx_process_slot
    // and ngx_pid are process globals.
    unsafe {
        let slot = ngx_process_slot;
        let table = &*core::ptr::addr_of!(ngx_processes);
        for (i, p) in table.iter().enumerate() {
            if out.len() >= max {
                break;
            }
            let mine = i as ngx_int_t == slot;
            if !mine && p.pid == 0 {
                break;
            }
            if mine {
                out.push(ngx_pid);
            } else if p.channel[0] > 0 && p.pid > 0 {
                out.push(p.pid);
            }
        }
    }
    out
}

/// Asks this process's event loop to shut down gracefully, as nginx's own
/// signal handler does on SIGQUIT.
pub fn request_quit() {
    // SAFETY: a sig_atomic_t flag nginx's cycle polls.
    unsafe { ngx_quit = 1 };
}

/// The process is shutting down (or asked to).
pub fn exiting() -> bool {
    // SAFETY: process globals.
    unsafe { ngx_exiting != 0 || ngx_quit != 0 || ngx_terminate != 0 }
}

/// Whether `SIGIO` is blocked in this thread (nginx's master blocks its
/// signals everywhere but in `sigsuspend`).
pub fn sigio_blocked() -> bool {
    // SAFETY: querying the mask into a local set.
    unsafe {
        let mut cur: libc::sigset_t = core::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, core::ptr::null(), &mut cur);
        libc::sigismember(&cur, libc::SIGIO) == 1
    }
}

/// Queues `sig` to this process with `value` (`sigqueue`).
pub fn queue_signal(sig: i32, value: usize) {
    // SAFETY: sigqueue to ourselves with a plain value.
    unsafe {
        let v = libc::sigval {
            sival_ptr: value as *mut libc::c_void,
        };
        libc::sigqueue(libc::getpid(), sig, v);
    }
}
