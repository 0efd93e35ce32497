//! ngx.worker.pids (the rest of ngx.worker.* is in misc.rs).
use core::ffi::c_int;

use super::*;
use crate::nginx::process;

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
