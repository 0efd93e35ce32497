//! ngx.semaphore.
use core::ffi::c_int;

use super::*;
use crate::lua::phase::YIELDABLE;
use crate::nginx::log::{Log, Ptr};
use crate::semaphore::{Sema, GOT_IT};

export! {
    fn ngx_lua_ffi_sema_new(n: c_int) -> *mut Sema {
        let s = Box::into_raw(Box::new(Sema::new(n as i64)));
        crate::debug!(Log::cycle(), "http lua semaphore new: {}, resources: {n}", Ptr::of(s));
        s
    }
}

export! {
    /// The semaphore's `ffi.gc` finalizer.
    fn ngx_lua_ffi_sema_gc(s: *mut Sema) {
        crate::debug!(Log::cycle(), "in lua gc, semaphore {}", Ptr::of(s));
        drop(lua_box!(s));
    }
}

export! {
    fn ngx_lua_ffi_sema_count(s: *mut Sema) -> c_int {
        lua_ref!(s).map_or(0, |s| s.count() as c_int)
    }
}

export! {
    fn ngx_lua_ffi_sema_post(s: *mut Sema, n: c_int) -> c_int {
        let Some(s) = lua_mut!(s) else {
            return FFI_ERROR;
        };
        crate::debug!(
            Log::cycle(),
            "http lua semaphore post: {}, n: {n}, resources: {}",
            Ptr::of(s as *const Sema),
            s.count()
        );
        s.post(n as i64);
        FFI_OK
    }
}

export! {
    /// `FFI_OK` got it, `FFI_DECLINED` timed out at once, `FFI_AGAIN`
    /// queued (yield, then ask ngx_lua_ffi_sema_result).
    fn ngx_lua_ffi_sema_wait(s: *mut Sema, ms: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        if let Err(rc) = running(YIELDABLE, &mut err) {
            return if rc == FFI_NO_REQ { rc } else { FFI_ERROR };
        }
        let Some(s) = lua_mut!(s) else {
            return FFI_ERROR;
        };
        crate::debug!(
            Log::cycle(),
            "http lua semaphore wait: {}, timeout: {ms}, resources: {}, event posted: {}",
            Ptr::of(s as *const Sema),
            s.count(),
            s.handing_over() as u8
        );
        if s.try_take() {
            return FFI_OK;
        }
        if ms <= 0 {
            return FFI_DECLINED;
        }
        let Some(t) = current().thread() else {
            err.set(b"no co ctx found");
            return FFI_ERROR;
        };
        s.enqueue(t, ms as nginx_sys::ngx_msec_t);
        crate::debug!(Log::cycle(), "http lua semaphore wait yielding");
        FFI_AGAIN
    }
}

export! {
    /// After a queued wait resumed: 1 if the thread got the semaphore.
    fn ngx_lua_ffi_sema_result() -> c_int {
        current()
            .thread()
            .map_or(0, |t| (t.wait_result == GOT_IT) as c_int)
    }
}
