//! `init_worker_by_lua*`.
use nginx_sys::{ngx_cycle_t, ngx_int_t, NGX_LOG_ERR};

use crate::conf::main_conf_from_cycle;
use crate::lua::sched;
use crate::nginx::log;
use crate::nginx::panic::guard;
use crate::nginx::request::{ERROR, OK};

pub unsafe extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx passes the running cycle.
        let Some(mcf) = (unsafe { main_conf_from_cycle(cycle) }) else {
            return OK;
        };
        let (Some(vm), Some(h)) = (mcf.vm.as_ref(), mcf.init_worker.clone()) else {
            return OK;
        };
        // SAFETY: the worker's VM, outside any request.
        if let Err(e) = unsafe { sched::run_sync(core::ptr::null_mut(), vm.state(), &h, true) } {
            // The cycle nginx passes is the running one, whose log this is.
            log::cycle(
                NGX_LOG_ERR,
                format!("init_worker_by_lua error: {e}").as_bytes(),
            );
        }
        vm.worker_ctx_free();
        OK
    })
}
