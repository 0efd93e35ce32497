//! `server_rewrite_by_lua*`: runs in nginx's server rewrite phase, before
//! a location is chosen (and again after an internal redirect, and in
//! subrequests).
use nginx_sys::{ngx_http_request_t, ngx_int_t};

use crate::lua::phase::Phase;
use crate::nginx::panic::guard;
use crate::nginx::request::{Request, ERROR};

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls phase handlers with a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => super::rewrite::run(r, Phase::ServerRewrite),
            None => ERROR,
        }
    })
}
