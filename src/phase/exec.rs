//! `ngx.exec`: the internal redirect a finished handler performs.
//!
//! The API only records the target in the request context and ends the
//! coroutine like `ngx.exit`; the phase code calls [`perform`] once Lua is
//! off the stack, because `ngx_http_internal_redirect` runs the new
//! location's phases right away (and resets every module's context).
use nginx_sys::*;

use crate::http::RequestCtx;

/// Performs the recorded redirect. nginx takes a request reference for the
/// new pass; the caller drops one (`ngx_http_finalize_request(r,
/// NGX_DONE)`, or returning `NGX_DONE` from a content handler, whose
/// checker finalizes with it).
pub fn perform(ctx: &mut RequestCtx) -> Option<ngx_int_t> {
    let mut e = ctx.phases.exec.take()?;
    let r = ctx.r;
    // SAFETY: live request; uri/args live in its pool. After this call the
    // request's module contexts are reset, so `ctx` is only freed by its
    // pool cleanup and never found again through r->ctx.
    unsafe {
        (*r).write_event_handler = Some(ngx_http_core_run_phases);
        if e.uri.len > 0 && *e.uri.data == b'@' {
            ngx_http_named_location(r, &mut e.uri);
        } else {
            ngx_http_internal_redirect(r, &mut e.uri, &mut e.args);
        }
    }
    Some(NGX_DONE as ngx_int_t)
}
