//! The TLS object of a request's upstream connection
//! (`ngx.ssl.get_upstream_ssl_pointer`).
use core::ffi::c_void;

use nginx_sys::SSL_session_reused;

use super::request::Request;

/// The `SSL *` of `r`'s upstream connection, or upstream's text for why
/// there is none.
pub fn upstream_ssl(r: Request) -> Result<*mut c_void, &'static str> {
    // SAFETY: a live request; its upstream (null or live while the request
    // is), the upstream's peer connection (null once closed or kept alive
    // in a pool) and that connection's TLS state (null without TLS).
    unsafe {
        let u = (*r.as_ptr()).upstream;
        if u.is_null() {
            return Err("bad upstream");
        }
        let c = (*u).peer.connection;
        if c.is_null() {
            return Err("bad peer connection");
        }
        let sc = (*c).ssl;
        if sc.is_null() || (*sc).connection.is_null() {
            return Err("not ssl connection");
        }
        Ok((*sc).connection as *mut c_void)
    }
}

/// Whether the handshake of `ssl` resumed a session.
///
/// # Safety
/// `ssl` is a live `SSL *` (as upstream's `ssl_session_reused(ssl)`
/// assumes of the pointer it is given).
pub unsafe fn session_reused(ssl: *mut c_void) -> bool {
    // SAFETY: the caller's contract.
    unsafe { SSL_session_reused(ssl as *const _) != 0 }
}
