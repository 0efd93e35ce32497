//! ngx.config.*.
use core::ffi::{c_int, c_uint};

use nginx_sys::*;

const CONFIGURE: &str = env!("NGX_LUA_CONFIGURE");

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_config_prefix(len: *mut usize) -> *const u8 {
    // SAFETY: the cycle's prefix string lives as long as the cycle.
    unsafe {
        let p = &(*ngx_cycle).prefix;
        *len = p.len;
        p.data
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_nginx_version() -> c_uint {
    nginx_version as c_uint
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_config_debug() -> c_int {
    cfg!(ngx_lua_debug) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_nginx_configure(len: *mut usize) -> *const u8 {
    // SAFETY: caller's out parameter.
    unsafe { *len = CONFIGURE.len() };
    CONFIGURE.as_ptr()
}
