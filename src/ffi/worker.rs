//! ngx.worker.*.
use core::ffi::c_int;

use nginx_sys::*;

use super::*;
use crate::nginx::process;

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_worker_pid() -> c_int {
    // SAFETY: ngx_pid is set at process start.
    unsafe { ngx_pid as c_int }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_worker_id() -> c_int {
    // SAFETY: process globals, written before any Lua code runs.
    unsafe {
        if ngx_process as u32 != NGX_PROCESS_WORKER && ngx_process as u32 != NGX_PROCESS_SINGLE {
            return -1;
        }
        ngx_worker as c_int
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_worker_count() -> c_int {
    // SAFETY: the core module's conf of the running cycle.
    unsafe {
        let ccf = *(*ngx_cycle).conf_ctx.add(ngx_core_module.index) as *mut ngx_core_conf_t;
        if ccf.is_null() {
            return 1;
        }
        (*ccf).worker_processes as c_int
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_worker_exiting() -> c_int {
    // SAFETY: process global.
    unsafe { (ngx_exiting != 0 || ngx_quit != 0 || ngx_terminate != 0) as c_int }
}

export! {
    /// Fills `pids` (room for `*len`) with the worker pids this process
    /// knows of; `*len` becomes their number. `FFI_ERROR` when none is
    /// known (a process outside the master's table).
    fn ngx_lua_ffi_worker_pids(pids: *mut c_int, len: &mut usize) -> c_int {
        let out = lua_buf!(pids, *len);
        let known = process::sibling_pids(out.len());
        if known.is_empty() {
            return FFI_ERROR;
        }
        out[..known.len()].copy_from_slice(&known);
        *len = known.len();
        FFI_OK
    }
}
