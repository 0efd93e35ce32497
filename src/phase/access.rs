//! `access_by_lua*`.
use nginx_sys::*;

use crate::lua::phase::Phase;

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: phase handlers get a live request.
    unsafe { super::rewrite::run(r, Phase::Access) }
}
