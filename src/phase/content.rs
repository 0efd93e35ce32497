//! `content_by_lua*`.
use nginx_sys::*;

use crate::conf::loc_conf;
use crate::http::RequestCtx;
use crate::lua::sched::{self, Outcome};

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls the content handler with a live request.
    unsafe {
        let lcf = loc_conf(r);
        let Some(h) = lcf.content.clone() else {
            return NGX_DECLINED as ngx_int_t;
        };
        let Some(ctx) = RequestCtx::get_or_create(r) else {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        };
        if ctx.phases.content_started {
            // Re-entered while suspended: the running coroutine owns it.
            return NGX_DONE as ngx_int_t;
        }
        if let Some(rc) = super::read_body_first(ctx, true) {
            return rc;
        }
        ctx.phases.content_started = true;
        // While Lua runs or waits, write events belong to whatever it
        // waits on (ngx.flush(true) installs its own handler).
        (*r).write_event_handler = Some(ngx_http_request_empty_handler);
        super::abort::watch(r);
        let outcome = sched::start(ctx, &h, lcf.code_cache(), super::after_phase);
        if let Some(rc) = super::exec::perform(ctx) {
            // NGX_DONE: the content phase checker drops the reference the
            // internal redirect took.
            return rc;
        }
        match super::finish_rc(ctx, outcome) {
            Some(rc) => rc,
            None => {
                suspend(r);
                NGX_DONE as ngx_int_t
            }
        }
    }
}

/// Keeps the request alive while the coroutine waits.
unsafe fn suspend(r: *mut ngx_http_request_t) {
    // SAFETY: live request; the extra reference is dropped by the
    // finalize call in after_resume (or the phase engine's NGX_DONE).
    unsafe {
        (*(*r).main).set_count((*(*r).main).count() + 1);
    }
}

pub fn after_resume(ctx: &mut RequestCtx, outcome: Outcome) {
    let r = ctx.r;
    if super::exec::perform(ctx).is_some() {
        // SAFETY: live request: drop the internal redirect's reference (the
        // suspension's was consumed by the content checker's NGX_DONE; the
        // request's own one now belongs to the new pass).
        unsafe { ngx_http_finalize_request(r, NGX_DONE as ngx_int_t) };
        return;
    }
    if let Some(rc) = super::finish_rc(ctx, outcome) {
        // SAFETY: live request; this consumes the reference taken at the
        // first suspension.
        unsafe {
            (*ctx.r).read_event_handler = Some(ngx_http_block_reading);
            ngx_http_finalize_request(ctx.r, rc)
        };
    }
}
