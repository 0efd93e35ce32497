//! Response output shared by the API and the phase handlers.
use nginx_sys::{
    ngx_uint_t, NGX_HTTP_HEAD, NGX_HTTP_NOT_MODIFIED, NGX_HTTP_OK, NGX_HTTP_SPECIAL_RESPONSE,
    NGX_HTTP_VERSION_11,
};

use crate::conf::LocConf;
use crate::http::RequestCtx;
use crate::nginx::chain::Chain;
use crate::nginx::request::{Rc, ERROR, OK};

/// Whether a status from nginx's output calls means "stop": an error, or
/// a special response that replaced ours.
pub fn failed(rc: Rc) -> bool {
    rc == ERROR || rc > OK
}

/// Sends the response header unless it went out already. While HTTP/1.0
/// output is buffered the header waits for the end of the body (upstream
/// makes `ngx.send_headers` a no-op then, too).
pub fn send_header_if_needed(ctx: &mut RequestCtx) -> Rc {
    if ctx.output.buffering {
        return OK;
    }
    send_header(ctx)
}

fn send_header(ctx: &mut RequestCtx) -> Rc {
    let r = ctx.req();
    if r.header_sent() {
        return OK;
    }
    if r.status() == 0 {
        r.set_status(NGX_HTTP_OK as _);
    }
    // lua_use_default_type: default_type unless Lua set (or cleared)
    // Content-Type itself, and never on a 304.
    if !ctx.output.mime_set {
        ctx.output.mime_set = true;
        if r.content_type().is_empty()
            && LocConf::of(r).use_default_type()
            && r.status() != NGX_HTTP_NOT_MODIFIED as _
            && !r.set_default_content_type()
        {
            return ERROR;
        }
    }
    r.send_header()
}

/// `lua_http10_buffering`: the first output of an HTTP/1.0 response whose
/// length is unknown starts buffering.
fn start_buffering(ctx: &mut RequestCtx) {
    let r = ctx.req();
    if !ctx.output.buffering
        && !r.header_only()
        && !r.header_sent()
        && r.http_version() < NGX_HTTP_VERSION_11 as _
        && r.content_length_n() < 0
        && LocConf::of(r).http10_buffering()
    {
        ctx.output.buffering = true;
    }
}

/// A one-buffer chain with room for `size` bytes, reusing a buffer nginx
/// already sent when one is free. `None`: no memory.
#[inline]
pub fn get_buf(ctx: &mut RequestCtx, size: usize) -> Option<Chain> {
    let r = ctx.req();
    ctx.output.bufs.get(r, size)
}

/// After `cl` (from `get_buf`) went down the filters: the buffers they are
/// done with become free for reuse.
#[inline]
pub fn update_chains(ctx: &mut RequestCtx, cl: Chain) {
    let r = ctx.req();
    ctx.output.bufs.update(r, cl);
}

/// `ngx_http_output_filter`, then `update_chains`.
fn output_filter(ctx: &mut RequestCtx, cl: Chain) -> Rc {
    let rc = ctx.req().output_filter(Some(cl));
    if rc != ERROR {
        update_chains(ctx, cl);
    }
    rc
}

/// Passes a chain from `get_buf` down the output filters, sending the
/// header first.
pub fn send_chain(ctx: &mut RequestCtx, cl: Chain) -> Rc {
    let r = ctx.req();
    // As upstream: a HEAD response is header only from its first output
    // on, so HTTP/1.0 buffering never holds it nor gives it a length.
    if r.method() & NGX_HTTP_HEAD as ngx_uint_t != 0 && !r.header_only() {
        r.set_header_only();
    }
    start_buffering(ctx);
    if ctx.output.buffering && !r.header_only() {
        crate::debug!(
            r.log_handle(),
            "lua buffering output bufs for the HTTP 1.0 request"
        );
        ctx.output.held.push(cl);
        return OK;
    }
    let rc = send_header_if_needed(ctx);
    if failed(rc) || r.header_only() {
        return rc;
    }
    output_filter(ctx, cl)
}

/// Ends HTTP/1.0 buffering: Content-Length from the held output (unless
/// Lua set one), then the header and the held chain.
fn flush_buffered(ctx: &mut RequestCtx) -> Rc {
    let r = ctx.req();
    ctx.output.buffering = false;
    if !r.header_sent() && r.content_length_n() < 0 {
        r.set_content_length(ctx.output.held.size() as i64);
    }
    let rc = send_header(ctx);
    if failed(rc) {
        return rc;
    }
    match ctx.output.held.take() {
        Some(out) if !r.header_only() => output_filter(ctx, out),
        _ => OK,
    }
}

/// Ends the response body (header first if needed); the content handler's
/// return value.
pub fn send_eof(ctx: &mut RequestCtx) -> Rc {
    // The raw request socket owns the connection: nginx sends nothing more.
    if ctx.output.eof_sent || ctx.output.raw_socket {
        return OK;
    }
    let r = ctx.req();
    // A response that ends without Lua having read the body discards it,
    // as upstream does when it sends the last buffer.
    if !r.discard_unread_body() {
        return ERROR;
    }
    if ctx.output.buffering {
        let rc = flush_buffered(ctx);
        if rc == ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE as Rc {
            return rc;
        }
    }
    let rc = send_header_if_needed(ctx);
    if failed(rc) {
        return rc;
    }
    ctx.output.eof_sent = true;
    if r.header_only() {
        return OK;
    }
    r.send_last()
}

/// Sends a flush buffer.
pub fn send_flush(ctx: &mut RequestCtx) -> Rc {
    let rc = send_header_if_needed(ctx);
    if failed(rc) {
        return rc;
    }
    let r = ctx.req();
    if r.header_only() {
        return OK;
    }
    r.send_flush_buf()
}
