//! ngx.worker.*.
use core::ffi::c_int;

use crate::nginx::cycle::{self, Cycle};

export! {
    fn ngx_lua_ffi_worker_pid() -> c_int {
        cycle::pid() as c_int
    }
}

export! {
    /// -1 outside worker processes (the master runs `init_by_lua*`).
    fn ngx_lua_ffi_worker_id() -> c_int {
        cycle::worker_id().map_or(-1, |id| id as c_int)
    }
}

export! {
    fn ngx_lua_ffi_worker_count() -> c_int {
        Cycle::current().worker_processes() as c_int
    }
}

export! {
    fn ngx_lua_ffi_worker_exiting() -> c_int {
        cycle::exiting() as c_int
    }
}
