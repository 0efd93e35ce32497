//! `lua_check_client_abort`: notice a client that went away while Lua
//! waits, and run the `ngx.on_abort` thread or end the request with 499.
use nginx_sys::{ngx_http_request_t, NGX_HTTP_CLIENT_CLOSED_REQUEST, NGX_LOG_INFO};

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::lua::ctx::{CoCtx, CoState};
use crate::nginx::downstream::Downstream;
use crate::nginx::panic::guard;
use crate::nginx::phase_engine::Client;
use crate::nginx::request::Request;

/// Installs the check for a request whose location enables it.
pub fn watch(r: Request) {
    if LocConf::of(r).check_client_abort.unwrap_or(false) {
        r.set_read_handler(Some(read_handler));
        let d = Downstream::of(r);
        if !d.is_http2() {
            // A close that came with the request was seen while nginx read
            // it; an edge-triggered event method reports it only once, so
            // the watcher would never hear of it.
            let rev = d.connection().read();
            if rev.eof() {
                rev.post();
            }
        }
    }
}

unsafe extern "C" fn read_handler(r: *mut ngx_http_request_t) {
    guard((), || {
        // SAFETY: nginx calls the request's read handler with a live
        // request.
        if let Some(r) = unsafe { Request::from_raw(r) } {
            on_read(r);
        }
    })
}

fn on_read(r: Request) {
    match r.check_client() {
        Client::Connected => return,
        Client::Closed => r.log_error(NGX_LOG_INFO, b"client prematurely closed connection"),
        Client::Failed => {}
    }
    r.block_reads();
    let Some(ctx) = RequestCtx::of(r) else {
        return;
    };
    if !ctx.threads.iter().any(|t| t.alive()) {
        return;
    }
    let handler = ctx
        .threads
        .iter_mut()
        .find(|t| t.state == CoState::Unstarted)
        .map(|t| &mut **t as *mut CoCtx);
    // Read first: what follows may end the request.
    let posted = r.posted_requests();
    match handler {
        // SAFETY: a thread record of the live ctx, waiting to be started
        // (ngx.on_abort's), which the scheduler runs from here.
        Some(t) => unsafe { crate::lua::sched::resume_thread(t, 0) },
        None => abort(ctx),
    }
    posted.run();
}

/// Ends the request's Lua handler because the client is gone.
fn abort(ctx: &mut RequestCtx) {
    ctx.exit_code = Some(NGX_HTTP_CLIENT_CLOSED_REQUEST as isize);
    let outcome = crate::lua::sched::overall(ctx);
    // What the phase that started the handler does next, as after any
    // resumption.
    let then = ctx.on_outcome;
    then(&mut ctx.lua, outcome);
}
