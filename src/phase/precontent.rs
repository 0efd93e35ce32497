//! `precontent_by_lua*`: runs in nginx's precontent phase, after
//! `try_files` and `mirror` unless `precontent_by_lua_no_postpone` is on.
use nginx_sys::{ngx_http_request_t, ngx_int_t};

use crate::lua::phase::Phase;
use crate::nginx::panic::guard;
use crate::nginx::request::{Request, ERROR};

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls phase handlers with a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => super::rewrite::run(r, Phase::Precontent),
            None => ERROR,
        }
    })
}
