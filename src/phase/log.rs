//! `log_by_lua*`.
use nginx_sys::*;

use crate::conf::loc_conf;
use crate::http::RequestCtx;
use crate::lua::sched;
use crate::nginx::log::log_error;

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: log-phase handlers get a live request.
    unsafe {
        let lcf = loc_conf(r);
        let Some(h) = lcf.log.clone() else {
            return NGX_DECLINED as ngx_int_t;
        };
        let Some(ctx) = RequestCtx::get_or_create(r) else {
            return NGX_DECLINED as ngx_int_t;
        };
        let L = ctx.vm().state();
        if let Err(e) = sched::run_sync(&mut ctx.lua, L, &h, lcf.code_cache()) {
            log_error(
                NGX_LOG_ERR,
                (*(*r).connection).log,
                format!("failed to run log_by_lua*: {e}").as_bytes(),
            );
        }
        NGX_OK as ngx_int_t
    }
}
