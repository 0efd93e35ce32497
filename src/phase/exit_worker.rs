//! `exit_worker_by_lua*`.
use core::sync::atomic::{AtomicBool, Ordering};

use nginx_sys::{ngx_cycle_t, NGX_LOG_ERR};

use crate::conf::main_conf_from_cycle;
use crate::lua::sched;
use crate::nginx::log;
use crate::nginx::panic::guard;

/// Set once the worker closed its Lua VM at exit (`mark_exited`): what
/// follows is the cycle pool's destruction, after which nothing of nginx
/// (resolvers, connections) may be touched. A finalizer that still ran
/// then (a VM closed by the pool's cleanup, as in the master) leaves
/// nginx alone, as upstream's do while nginx exits.
static PROCESS_EXITING: AtomicBool = AtomicBool::new(false);

pub fn process_exiting() -> bool {
    PROCESS_EXITING.load(Ordering::Relaxed)
}

/// See `PROCESS_EXITING`.
pub fn mark_exited() {
    PROCESS_EXITING.store(true, Ordering::Relaxed);
}

pub unsafe extern "C" fn exit_process(cycle: *mut ngx_cycle_t) {
    guard((), || {
        // SAFETY: nginx passes the running cycle.
        let Some(mcf) = (unsafe { main_conf_from_cycle(cycle) }) else {
            return;
        };
        let (Some(vm), Some(h)) = (mcf.vm.as_ref(), mcf.exit_worker.clone()) else {
            return;
        };
        // SAFETY: the worker's VM, outside any request.
        if let Err(e) = unsafe { sched::run_sync(core::ptr::null_mut(), vm.state(), &h, true) } {
            // The cycle nginx passes is the running one, whose log this is.
            log::cycle(
                NGX_LOG_ERR,
                format!("exit_worker_by_lua error: {e}").as_bytes(),
            );
        }
        vm.worker_ctx_free();
    })
}
