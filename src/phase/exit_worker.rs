//! `exit_worker_by_lua*`.
use core::sync::atomic::{AtomicBool, Ordering};

use nginx_sys::{ngx_cycle_t, NGX_LOG_ERR};

use crate::conf::main_conf_from_cycle;
use crate::lua::sched;
use crate::nginx::log;
use crate::nginx::panic::guard;

/// Set once the process runs its module exit hooks: what follows is the
/// cycle pool's destruction, which closes the Lua VM after nginx freed
/// the structures (resolvers, connections) that a collected socket's
/// cleanup would touch. The sockets' finalizers then leave them alone, as
/// upstream's do while nginx exits; the process is about to end.
static PROCESS_EXITING: AtomicBool = AtomicBool::new(false);

pub fn process_exiting() -> bool {
    PROCESS_EXITING.load(Ordering::Relaxed)
}

pub unsafe extern "C" fn exit_process(cycle: *mut ngx_cycle_t) {
    guard((), || {
        PROCESS_EXITING.store(true, Ordering::Relaxed);
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
    })
}
