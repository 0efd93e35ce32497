//! ngx.worker.*.
use core::ffi::c_int;

use super::*;
use crate::nginx::cycle::{self, Cycle};
use crate::nginx::process;

export! {
    fn ngx_lua_ffi_worker_pid() -> c_int {
        process::pid() as c_int
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
        process::exiting() as c_int
    }
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
