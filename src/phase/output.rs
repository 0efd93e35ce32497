//! Response output shared by the API and the phase handlers.
use nginx_sys::*;

use crate::lua::ctx::RequestCtx;

/// Sends the response header unless it went out already.
pub fn send_header_if_needed(ctx: &mut RequestCtx) -> isize {
    let r = ctx.r;
    // SAFETY: live request; the calls are nginx's public header API.
    unsafe {
        if (*r).header_sent() != 0 {
            return NGX_OK as isize;
        }
        if (*r).headers_out.status == 0 {
            (*r).headers_out.status = NGX_HTTP_OK as ngx_uint_t;
        }
        if (*r).headers_out.content_type.len == 0 && ngx_http_set_content_type(r) != NGX_OK as isize
        {
            return NGX_ERROR as isize;
        }
        ngx_http_send_header(r)
    }
}

/// Passes a chain down the output filters, sending the header first.
///
/// # Safety
/// `cl` must be a valid chain allocated from the request's pool.
pub unsafe fn send_chain(ctx: &mut RequestCtx, cl: *mut ngx_chain_t) -> isize {
    let rc = send_header_if_needed(ctx);
    // SAFETY: live request.
    unsafe {
        if rc == NGX_ERROR as isize || rc > NGX_OK as isize || (*ctx.r).header_only() != 0 {
            return rc;
        }
        ngx_http_output_filter(ctx.r, cl)
    }
}

/// Ends the response body (header first if needed); the content handler's
/// return value.
pub fn send_eof(ctx: &mut RequestCtx) -> isize {
    // The raw request socket owns the connection: nginx sends nothing more.
    if ctx.eof_sent || ctx.raw_socket {
        return NGX_OK as isize;
    }
    let rc = send_header_if_needed(ctx);
    if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
        return rc;
    }
    ctx.eof_sent = true;
    // SAFETY: live request.
    unsafe {
        if (*ctx.r).header_only() != 0 {
            return NGX_OK as isize;
        }
        let flags = if (*ctx.r).main == ctx.r {
            NGX_HTTP_LAST
        } else {
            NGX_HTTP_FLUSH
        };
        ngx_http_send_special(ctx.r, flags as ngx_uint_t)
    }
}

/// Sends a flush buffer.
pub fn send_flush(ctx: &mut RequestCtx) -> isize {
    let rc = send_header_if_needed(ctx);
    if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
        return rc;
    }
    // SAFETY: live request.
    unsafe {
        if (*ctx.r).header_only() != 0 {
            return NGX_OK as isize;
        }
        ngx_http_send_special(ctx.r, NGX_HTTP_FLUSH as ngx_uint_t)
    }
}
