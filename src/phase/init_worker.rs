//! `init_worker_by_lua*`.
use nginx_sys::*;

use crate::conf::main_conf_from_cycle;
use crate::lua::sched;
use crate::nginx::log::log_error;

pub unsafe extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx passes the running cycle.
    let Some(mcf) = (unsafe { main_conf_from_cycle(cycle) }) else {
        return NGX_OK as ngx_int_t;
    };
    let (Some(vm), Some(h)) = (mcf.vm.as_ref(), mcf.init_worker.clone()) else {
        return NGX_OK as ngx_int_t;
    };
    // SAFETY: the worker's VM, outside any request.
    if let Err(e) = unsafe { sched::run_sync(core::ptr::null_mut(), vm.state(), &h, true) } {
        // SAFETY: the cycle's log is valid in the worker.
        let log = unsafe { (*cycle).log };
        // SAFETY: the cycle's log.
        unsafe {
            log_error(
                NGX_LOG_ERR,
                log,
                format!("init_worker_by_lua error: {e}").as_bytes(),
            )
        };
    }
    NGX_OK as ngx_int_t
}
