//! `log_by_lua*`.
use nginx_sys::{ngx_http_request_t, ngx_int_t, NGX_LOG_ERR};

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::nginx::panic::guard;
use crate::nginx::request::{Rc, Request, DECLINED, ERROR, OK};

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls log-phase handlers with a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => run(r),
            None => ERROR,
        }
    })
}

#[inline]
fn run(r: Request) -> Rc {
    r.trace_hook("log handler", true);
    let lcf = LocConf::of(r);
    let Some(h) = lcf.log.clone() else {
        return DECLINED;
    };
    let Some(ctx) = RequestCtx::of_or_create(r) else {
        return DECLINED;
    };
    if let Err(e) = ctx.run_sync(&h, lcf.code_cache()) {
        r.log_error(
            NGX_LOG_ERR,
            format!("failed to run log_by_lua*: {e}").as_bytes(),
        );
    }
    OK
}
