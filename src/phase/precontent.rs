//! `precontent_by_lua*`: runs in nginx's precontent phase, after
//! `try_files` and `mirror` unless `precontent_by_lua_no_postpone` is on.
use nginx_sys::*;

use crate::lua::phase::Phase;

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: phase handlers get a live request.
    unsafe { super::rewrite::run(r, Phase::Precontent) }
}
