//! The end of a rewrite/access/content handler's Lua code: the status it
//! ends the request with, and what is still owed to the client.
use nginx_sys::{ngx_uint_t, NGX_HTTP_CLIENT_CLOSED_REQUEST, NGX_HTTP_INTERNAL_SERVER_ERROR};

use super::output;
use crate::http::RequestCtx;
use crate::lua::sched::Outcome;
use crate::nginx::request::{Rc, DECLINED, ERROR, OK};

/// The status a finished rewrite/access/content handler ends the request
/// with, sending what is still owed (header, last buffer).
pub fn finish_rc(ctx: &mut RequestCtx, outcome: Outcome) -> Option<Rc> {
    let r = ctx.req();
    let header_sent = r.header_sent();
    if outcome != Outcome::Yielded {
        // SAFETY: a live request whose Lua threads are all done.
        unsafe { crate::cosocket::req::discard_unread(r.as_ptr()) };
    }
    match outcome {
        Outcome::Yielded => None,
        // With subrequests still running (a light thread's capture),
        // upstream ends the request without a response.
        Outcome::Error if ctx.phases.pending_captures > 0 => Some(ERROR),
        Outcome::Error => Some(if header_sent {
            ERROR
        } else {
            NGX_HTTP_INTERNAL_SERVER_ERROR as Rc
        }),
        Outcome::Done => Some(output::send_eof(ctx)),
        Outcome::Exit(code) => {
            if code == ERROR || code == NGX_HTTP_CLIENT_CLOSED_REQUEST as Rc {
                return Some(code);
            }
            // Content's `ngx.exit(ngx.DECLINED)` (rewrite and access go on
            // before they get here): upstream's handler returns NGX_OK
            // without sending anything more, not even the last buffer.
            if code == DECLINED && !ctx.output.buffering {
                return Some(OK);
            }
            // As upstream, the exit code becomes the response status unless
            // one was set; it survives an `error_page 404 = /uri` redirect.
            if code >= 200 && !header_sent && r.status() == 0 {
                r.set_status(code as ngx_uint_t);
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
