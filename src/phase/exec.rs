//! `ngx.exec`: the internal redirect a finished handler performs.
//!
//! The API only records the target in the request context and ends the
//! coroutine like `ngx.exit`; the phase code calls [`perform`] once Lua is
//! off the stack, because `ngx_http_internal_redirect` runs the new
//! location's phases right away (and resets every module's context).
use crate::http::RequestCtx;
use crate::nginx::request::{Rc, DONE};

/// Performs the recorded redirect. nginx takes a request reference for the
/// new pass; the caller drops one (`ngx_http_finalize_request(r,
/// NGX_DONE)`, or returning `NGX_DONE` from a content handler, whose
/// checker finalizes with it). Afterwards the request's module contexts
/// are reset, so `ctx` is only freed by its pool cleanup and never found
/// again through `r->ctx`.
pub fn perform(ctx: &mut RequestCtx) -> Option<Rc> {
    let e = ctx.phases.exec.take()?;
    ctx.req().exec(e.uri.as_bytes(), e.args.as_bytes());
    Some(DONE)
}
