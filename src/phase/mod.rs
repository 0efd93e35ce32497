//! nginx phase hooks: one file per phase.
pub mod abort;
pub mod access;
pub mod body_filter;
pub mod content;
pub mod exec;
pub mod exit_worker;
pub mod finish;
pub mod flush;
pub mod header_filter;
pub mod init_worker;
pub mod log;
pub mod output;
pub mod precontent;
pub mod rewrite;
pub mod server_rewrite;
pub mod set;

use nginx_sys::*;

use crate::conf;
use crate::http::RequestCtx;

/// `lua_need_request_body`: reads the client body before a rewrite,
/// access or content handler runs its Lua code. `Some(rc)` when the
/// handler must return `rc` now: `NGX_DONE` while nginx reads (the post
/// handler re-enters the handler), or nginx's error status.
///
/// # Safety
/// `r` is the live request of `ctx`, in one of those phases.
pub unsafe fn read_body_first(
    r: *mut ngx_http_request_t,
    ctx: &mut RequestCtx,
    content: bool,
) -> Option<ngx_int_t> {
    if ctx.body.waiting_more {
        return Some(NGX_DONE as ngx_int_t);
    }
    // SAFETY: live request; nginx's documented body API.
    unsafe {
        if ctx.body.read_done || !conf::loc_conf(r).need_request_body() {
            return None;
        }
        (*r).set_request_body_in_single_buf(1);
        (*r).set_request_body_in_persistent_file(1);
        (*r).set_request_body_in_clean_file(1);
        let post: ngx_http_client_body_handler_pt = if content {
            Some(content_body_read)
        } else {
            Some(phase_body_read)
        };
        let rc = ngx_http_read_client_request_body(r, post);
        if rc == NGX_ERROR as ngx_int_t || rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
            return Some(rc);
        }
        if rc == NGX_AGAIN as ngx_int_t {
            ctx.body.waiting_more = true;
            return Some(NGX_DONE as ngx_int_t);
        }
        None
    }
}

/// Body read for a rewrite/access handler: drop the read's reference and,
/// if the handler is waiting for it, run the phases again.
unsafe extern "C" fn phase_body_read(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the post handler with the live request holding
    // the reference ngx_http_read_client_request_body took.
    unsafe {
        (*(*r).main).set_count((*(*r).main).count() - 1);
        let Some(ctx) = RequestCtx::get(r) else {
            return;
        };
        ctx.body.read_done = true;
        if ctx.body.waiting_more {
            ctx.body.waiting_more = false;
            ngx_http_core_run_phases(r);
        }
    }
}

/// Body read for a content handler: run it now if it was waiting (its
/// result finalizes the request with the read's reference), else just
/// drop the reference.
unsafe extern "C" fn content_body_read(r: *mut ngx_http_request_t) {
    // SAFETY: as phase_body_read.
    unsafe {
        let ctx = RequestCtx::get(r);
        match ctx {
            Some(ctx) if ctx.body.waiting_more => {
                ctx.body.read_done = true;
                ctx.body.waiting_more = false;
                ngx_http_finalize_request(r, content::handler(r));
            }
            ctx => {
                if let Some(ctx) = ctx {
                    ctx.body.read_done = true;
                }
                (*(*r).main).set_count((*(*r).main).count() - 1);
            }
        }
    }
}
