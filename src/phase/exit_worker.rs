//! `exit_worker_by_lua*`.
use nginx_sys::*;

use crate::conf::main_conf_from_cycle;
use crate::lua::sched;
use crate::nginx::log::log_error;

pub unsafe extern "C" fn exit_process(cycle: *mut ngx_cycle_t) {
    // SAFETY: nginx passes the running cycle.
    let Some(mcf) = (unsafe { main_conf_from_cycle(cycle) }) else {
        return;
    };
    let (Some(vm), Some(h)) = (mcf.vm.as_ref(), mcf.exit_worker.clone()) else {
        return;
    };
    // SAFETY: the worker's VM, outside any request.
    if let Err(e) = unsafe { sched::run_sync(core::ptr::null_mut(), vm.state(), &h, true) } {
        // SAFETY: the cycle's log is valid until the process exits.
        let log = unsafe { (*cycle).log };
        // SAFETY: the cycle's log.
        unsafe {
            log_error(
                NGX_LOG_ERR,
                log,
                format!("exit_worker_by_lua error: {e}").as_bytes(),
            )
        };
    }
}
