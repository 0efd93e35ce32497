//! `ngx.ssl.get_upstream_ssl_pointer` and `ngx.ssl.ssl_session_reused(ssl)`
//! (lua-lib/ngx/ssl.lua).
use core::ffi::{c_int, c_void};

use crate::lua::sched::current;
use crate::nginx::ssl_upstream;

export! {
    /// The `SSL *` of the running request's upstream connection; null
    /// with the reason ("no request found" outside requests).
    fn ngx_lua_ffi_ssl_upstream_pointer(err: *mut u8, errlen: *mut usize) -> *mut c_void {
        let mut err = err_out!(err, errlen);
        let Some(ctx) = current().lua_ctx() else {
            err.set(b"no request found");
            return core::ptr::null_mut();
        };
        match ssl_upstream::upstream_ssl(ctx.req()) {
            Ok(p) => p,
            Err(e) => {
                err.set(e.as_bytes());
                core::ptr::null_mut()
            }
        }
    }
}

export! {
    /// `ssl_session_reused(ssl)` for an `SSL *` lua-lib was handed.
    fn ngx_lua_ffi_ssl_ptr_session_reused(ssl: *mut c_void) -> c_int {
        // SAFETY: lua-lib's contract: a non-null `SSL *` cdata, as upstream
        // passes it to OpenSSL.
        c_int::from(unsafe { ssl_upstream::session_reused(ssl) })
    }
}
