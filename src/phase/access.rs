//! `access_by_lua*`.
use nginx_sys::{ngx_http_request_t, ngx_int_t};

use crate::lua::phase::Phase;
use crate::nginx::panic::guard;
use crate::nginx::request::{Request, ERROR};

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls phase handlers with a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => super::rewrite::run(r, Phase::Access),
            None => ERROR,
        }
    })
}
