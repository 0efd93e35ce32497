//! nginx phase hooks: one file per phase.
pub mod abort;
pub mod access;
pub mod body;
pub mod body_filter;
pub mod content;
pub mod exec;
pub mod exit_worker;
pub mod flush;
pub mod header_filter;
pub mod init_worker;
pub mod log;
pub mod output;
pub mod precontent;
pub mod rewrite;
pub mod server_rewrite;
pub mod set;

pub use body::read_body_first;

use nginx_sys::*;

use crate::http::RequestCtx;
use crate::lua::ctx::LuaCtx;
use crate::lua::phase::Phase;
use crate::lua::sched::Outcome;

/// The continuation of the request phases' handlers: lets the phase
/// whose threads ran act on the handler's state after an event resumed one
/// of them.
pub fn after_phase(l: &mut LuaCtx, outcome: Outcome) {
    // SAFETY: every LuaCtx of a request is part of a RequestCtx.
    let Some(ctx) = (unsafe { RequestCtx::from_lua(l) }) else {
        return;
    };
    match ctx.phase {
        Phase::Content => content::after_resume(ctx, outcome),
        Phase::ServerRewrite | Phase::Rewrite | Phase::Access | Phase::Precontent => {
            rewrite::after_resume(ctx, outcome)
        }
        _ => {}
    }
}

/// The status a finished rewrite/access/content handler ends the request
/// with, sending what is still owed (header, last buffer).
pub fn finish_rc(ctx: &mut RequestCtx, outcome: Outcome) -> Option<isize> {
    let r = ctx.r;
    // SAFETY: live request.
    let header_sent = unsafe { (*r).header_sent() != 0 };
    if outcome != Outcome::Yielded {
        // SAFETY: live request whose threads are all done.
        unsafe { crate::cosocket::req::discard_unread(r) };
    }
    match outcome {
        Outcome::Yielded => None,
        // With subrequests still running (a light thread's capture),
        // upstream ends the request without a response.
        Outcome::Error if ctx.phases.pending_captures > 0 => Some(NGX_ERROR as isize),
        Outcome::Error => Some(if header_sent { NGX_ERROR as isize } else { 500 }),
        Outcome::Done => Some(output::send_eof(ctx)),
        Outcome::Exit(code) => {
            if code == NGX_ERROR as isize || code == NGX_HTTP_CLIENT_CLOSED_REQUEST as isize {
                return Some(code);
            }
            // As upstream, the exit code becomes the response status unless
            // one was set; it survives an `error_page 404 = /uri` redirect.
            if code >= 200 && !header_sent {
                // SAFETY: live request, header not yet sent.
                unsafe {
                    if (*r).headers_out.status == 0 {
                        (*r).headers_out.status = code as ngx_uint_t;
                    }
                }
            }
            // Buffered HTTP/1.0 output goes out with the exit status, as
            // upstream does, instead of being replaced by an error page.
            if code >= 300 && !header_sent && !ctx.output.buffering {
                return Some(code);
            }
            Some(output::send_eof(ctx))
        }
    }
}
