//! ngx.semaphore.
use core::ffi::c_int;

use super::*;
use crate::semaphore::{Sema, GOT_IT};

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_sema_new(n: c_int) -> *mut Sema {
    guard(core::ptr::null_mut(), || {
        Box::into_raw(Box::new(Sema::new(n as i64)))
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_sema_gc(s: *mut Sema) {
    if !s.is_null() {
        // SAFETY: the pointer came from ngx_lua_ffi_sema_new; LuaJIT's
        // ffi.gc calls this once.
        guard((), || drop(unsafe { Box::from_raw(s) }));
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_sema_count(s: *mut Sema) -> c_int {
    // SAFETY: a live semaphore owned by its Lua object.
    unsafe { (*s).count() as c_int }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_sema_post(s: *mut Sema, n: c_int) -> c_int {
    // SAFETY: a live semaphore owned by its Lua object.
    guard(FFI_ERROR, || unsafe {
        (*s).post(n as i64);
        FFI_OK
    })
}

/// `FFI_OK` got it, `FFI_DECLINED` timed out at once, `FFI_AGAIN` queued
/// (yield, then ask ngx_lua_ffi_sema_result).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_sema_wait(
    s: *mut Sema,
    ms: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: a live semaphore owned by its Lua object; the error buffer
        // is the caller's.
        unsafe {
            if let Err(rc) = request_in(crate::lua::phase::YIELDABLE, err, errlen) {
                return if rc == FFI_NO_REQ { rc } else { FFI_ERROR };
            }
            if (*s).try_take() {
                return FFI_OK;
            }
            if ms <= 0 {
                return FFI_DECLINED;
            }
            let Some(t) = current().co.as_mut() else {
                set_err(err, errlen, b"no co ctx found");
                return FFI_ERROR;
            };
            (*s).enqueue(t, ms as nginx_sys::ngx_msec_t);
            FFI_AGAIN
        }
    })
}

/// After a queued wait resumed: 1 if the thread got the semaphore.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_sema_result() -> c_int {
    // SAFETY: CURRENT.co is the running thread.
    match unsafe { current().co.as_ref() } {
        Some(t) => (t.wait_result == GOT_IT) as c_int,
        None => 0,
    }
}
