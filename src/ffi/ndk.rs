//! ndk.set_var.DIRECTIVE (only defined when an NDK module is loaded).
use core::ffi::{c_int, c_void};

use super::*;
use crate::nginx::ndk;

export! {
    fn ngx_lua_ffi_ndk_available() -> c_int {
        ndk::available() as c_int
    }
}

export! {
    /// The filter of set_var directive `name`, or `FFI_ERROR`.
    fn ngx_lua_ffi_ndk_lookup_directive(name: *const u8, len: usize, func: &mut *mut c_void) -> c_int {
        match ndk::lookup(lua_bytes!(name, len)) {
            Some(f) => {
                *func = f as *mut c_void;
                FFI_OK
            }
            None => FFI_ERROR,
        }
    }
}

export! {
    /// Runs the filter on `arg` for the running request: `FFI_OK` with the
    /// value, `FFI_NO_REQ`, or the filter's own status.
    fn ngx_lua_ffi_ndk_set_var_get(
        func: *mut c_void,
        arg: *const u8,
        arg_len: usize,
        value: &mut *const u8,
        value_len: &mut usize,
    ) -> c_int {
        let Ok(ctx) = running(u32::MAX, &mut ErrOut::none()) else {
            return FFI_NO_REQ;
        };
        match ndk::call(ctx.req(), func as usize, lua_bytes!(arg, arg_len)) {
            Ok(v) => {
                *value = v.as_ptr();
                *value_len = v.len();
                FFI_OK
            }
            Err(rc) => rc as c_int,
        }
    }
}
