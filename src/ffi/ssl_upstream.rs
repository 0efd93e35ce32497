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

// `ngx.ssl.proxysslcert` and `ngx.ssl.proxysslverify`
// (lua-lib/ngx/ssl/proxyssl*.lua): the upstream connection of the running
// request, whose handshake runs the handler.

use super::ssl::answer;
use super::{ErrOut, FFI_ERROR, FFI_NO_REQ};
use crate::nginx::request::Request;
use crate::nginx::ssl_server::{with_chain, with_key, CertChain, PKey};

/// The running request, or `FFI_NO_REQ` ("no request found").
fn request(err: &mut ErrOut) -> Result<Request, c_int> {
    match current().lua_ctx() {
        Some(ctx) => Ok(ctx.req()),
        None => {
            err.set(b"no request found");
            Err(FFI_NO_REQ)
        }
    }
}

macro_rules! req {
    ($err:expr) => {
        match request(&mut $err) {
            Ok(r) => r,
            Err(rc) => return rc,
        }
    };
}

export! {
    fn ngx_lua_ffi_proxy_ssl_clear_certs(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = req!(err);
        answer(ssl_upstream::proxy_clear_certs(r), &mut err)
    }
}

export! {
    fn ngx_lua_ffi_proxy_ssl_set_der_certificate(
        data: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = req!(err);
        let res = CertChain::from_der(lua_bytes!(data, len), "d2i_X509_bio() failed")
            .and_then(|chain| ssl_upstream::proxy_set_cert(r, &chain));
        answer(res, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_proxy_ssl_set_der_private_key(
        data: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = req!(err);
        let res = PKey::from_der(lua_bytes!(data, len)).and_then(|k| ssl_upstream::proxy_set_key(r, &k));
        answer(res, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_proxy_ssl_set_cert(cdata: *mut c_void, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = req!(err);
        // SAFETY: lua-lib's contract: a chain parse_*_cert returned, kept
        // alive by the cdata passed in.
        let res = unsafe { with_chain(cdata, |c| ssl_upstream::proxy_set_cert(r, c)) };
        answer(res.unwrap_or(Err("invalid certificate chain")), &mut err)
    }
}

export! {
    fn ngx_lua_ffi_proxy_ssl_set_priv_key(cdata: *mut c_void, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = req!(err);
        // SAFETY: as set_cert, for a key.
        let res = unsafe { with_key(cdata, |k| ssl_upstream::proxy_set_key(r, k)) };
        answer(res.unwrap_or(Err("invalid private key")), &mut err)
    }
}

export! {
    fn ngx_lua_ffi_proxy_ssl_set_verify_result(v: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = req!(err);
        answer(ssl_upstream::proxy_set_verify_result(r, v), &mut err)
    }
}

export! {
    /// The verification result, or `FFI_ERROR` with the reason (results
    /// are never negative).
    fn ngx_lua_ffi_proxy_ssl_get_verify_result(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = req!(err);
        match ssl_upstream::proxy_get_verify_result(r) {
            Ok(v) => v,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// A new reference to the upstream's certificate (freed by
    /// `ngx_lua_ffi_proxy_ssl_free_verify_cert`), null with the reason.
    fn ngx_lua_ffi_proxy_ssl_get_verify_cert(err: *mut u8, errlen: *mut usize) -> *mut c_void {
        let mut err = err_out!(err, errlen);
        let Ok(r) = request(&mut err) else {
            return core::ptr::null_mut();
        };
        match ssl_upstream::proxy_get_verify_cert(r) {
            Ok(p) => p,
            Err(e) => {
                err.set(e.as_bytes());
                core::ptr::null_mut()
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_proxy_ssl_free_verify_cert(cdata: *mut c_void) {
        // SAFETY: lua-lib's contract: the gc of a certificate
        // get_verify_cert returned, run once.
        unsafe { ssl_upstream::free_cert(cdata) }
    }
}
