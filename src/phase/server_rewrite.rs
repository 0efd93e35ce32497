//! `server_rewrite_by_lua*`: runs in nginx's server rewrite phase, before
//! a location is chosen (and again after an internal redirect, and in
//! subrequests).
use nginx_sys::*;

use crate::lua::phase::Phase;

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: phase handlers get a live request.
    unsafe { super::rewrite::run(r, Phase::ServerRewrite) }
}
