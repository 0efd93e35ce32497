//! ngx.process.
use core::ffi::c_int;

use super::*;
use crate::nginx::process as nginx_process;
use crate::process;

export! {
    /// In init_by_lua*: the master will keep a privileged agent with
    /// `connections` connections running.
    fn ngx_lua_ffi_enable_privileged_agent(connections: u32, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        if crate::lua::sched::current().phase != Phase::Init {
            err.set(b"API disabled in the current context");
            return FFI_ERROR;
        }
        process::request_agent(connections);
        FFI_OK
    }
}

export! {
    fn ngx_lua_ffi_get_process_type() -> c_int {
        process::process_type()
    }
}

export! {
    fn ngx_lua_ffi_process_signal_graceful_exit() {
        nginx_process::request_quit();
    }
}

export! {
    fn ngx_lua_ffi_master_pid() -> c_int {
        nginx_process::master_pid()
    }
}
