//! `lua_check_client_abort`: notice a client that went away while Lua
//! waits, and run the `ngx.on_abort` thread or end the request with 499.
use nginx_sys::*;

use crate::http::RequestCtx;
use crate::lua::ctx::CoState;
use crate::nginx::log;
use crate::nginx::sock::{peek, Peek};

/// Installs the check for a request whose location enables it.
///
/// # Safety
/// `r` is a live request.
pub unsafe fn watch(r: *mut ngx_http_request_t) {
    // SAFETY: live request.
    unsafe {
        if crate::conf::loc_conf(r).check_client_abort.unwrap_or(false) {
            (*r).read_event_handler = Some(read_handler);
        }
    }
}

/// Whether the client closed its side (peeking, so pipelined data stays).
unsafe fn broken(r: *mut ngx_http_request_t) -> bool {
    // SAFETY: live request and connection.
    unsafe {
        let c = (*r).connection;
        let rev = (*c).read;
        if (*c).error() != 0 {
            return true;
        }
        let state = peek((*c).fd);
        if (ngx_event_flags & NGX_USE_LEVEL_EVENT as ngx_uint_t) != 0 && (*rev).active() != 0 {
            // Level-triggered event methods (poll, select) would report the
            // same pending data forever: stop watching, as nginx does.
            ngx_http_block_reading(r);
        }
        if matches!(state, Peek::Data | Peek::WouldBlock) {
            return false;
        }
        (*rev).set_eof(1);
        if state == Peek::Error {
            (*rev).set_error(1);
        }
        log::log_error(
            NGX_LOG_INFO,
            (*c).log,
            b"client prematurely closed connection",
        );
        true
    }
}

unsafe extern "C" fn read_handler(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the request's read handler with a live request.
    unsafe {
        if !broken(r) {
            return;
        }
        (*r).read_event_handler = Some(ngx_http_block_reading);
        let Some(ctx) = RequestCtx::get(r) else {
            return;
        };
        if !ctx.threads.iter().any(|t| t.alive()) {
            return;
        }
        let handler = ctx
            .threads
            .iter_mut()
            .find(|t| t.state == CoState::Unstarted)
            .map(|t| &mut **t as *mut crate::lua::ctx::CoCtx);
        let c = (*r).connection;
        match handler {
            Some(t) => crate::lua::sched::resume_thread(t, 0),
            None => abort(ctx),
        }
        ngx_http_run_posted_requests(c);
    }
}

/// Ends the request's Lua handler because the client is gone.
fn abort(ctx: &mut RequestCtx) {
    ctx.exit_code = Some(NGX_HTTP_CLIENT_CLOSED_REQUEST as isize);
    let outcome = crate::lua::sched::overall(ctx);
    super::after_phase(ctx, outcome);
}
