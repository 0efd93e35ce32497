//! `content_by_lua*`.
use nginx_sys::{ngx_http_request_t, ngx_int_t, NGX_HTTP_INTERNAL_SERVER_ERROR};

use crate::conf::LocConf;
use crate::http::ctx::{AfterResume, RequestCtx};
use crate::lua::sched::Outcome;
use crate::nginx::panic::guard;
use crate::nginx::request::{Rc, Request, DECLINED, DONE, ERROR};

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(ERROR, || {
        // SAFETY: nginx calls the content handler (and the body reader its
        // post handler) with a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => run(r),
            None => ERROR,
        }
    })
}

#[inline]
fn run(r: Request) -> Rc {
    r.trace_hook("content handler", true);
    let lcf = LocConf::of(r);
    let Some(h) = lcf.content.clone() else {
        return DECLINED;
    };
    let Some(ctx) = RequestCtx::of_or_create(r) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as Rc;
    };
    if ctx.phases.content_started {
        // Re-entered while suspended: the running coroutine owns it.
        return DONE;
    }
    if let Some(rc) = super::read_body_first(ctx, true) {
        return rc;
    }
    ctx.phases.content_started = true;
    // While Lua runs or waits, write events belong to whatever it waits
    // on (ngx.flush(true) installs its own handler).
    r.ignore_write_events();
    super::abort::watch(r);
    let outcome = ctx.start::<Content>(&h, lcf.code_cache());
    if let Some(rc) = super::exec::perform(ctx) {
        // NGX_DONE: the content phase checker drops the reference the
        // internal redirect took.
        return rc;
    }
    match super::finish::finish_rc(ctx, outcome) {
        Some(rc) => rc,
        None => {
            // Kept alive while the coroutine waits: the finalize call in
            // after_resume (or the phase engine's NGX_DONE) drops it.
            r.hold();
            DONE
        }
    }
}

/// The content handler after an event resumed its Lua code: it ends the
/// request once the code is done.
pub struct Content;

impl AfterResume for Content {
    fn after_resume(ctx: &mut RequestCtx, outcome: Outcome) {
        let r = ctx.req();
        if super::exec::perform(ctx).is_some() {
            // Drop the internal redirect's reference (the suspension's was
            // consumed by the content checker's NGX_DONE; the request's own
            // one now belongs to the new pass).
            r.finalize(DONE);
            return;
        }
        if let Some(rc) = super::finish::finish_rc(ctx, outcome) {
            r.block_reads();
            // Consumes the reference taken at the first suspension.
            r.finalize(rc);
        }
    }
}
