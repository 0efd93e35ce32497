//! Response output shared by the API and the phase handlers.
use core::ptr;

use nginx_sys::*;

use crate::conf::loc_conf;
use crate::http::RequestCtx;

/// Sends the response header unless it went out already. While HTTP/1.0
/// output is buffered the header waits for the end of the body (upstream
/// makes `ngx.send_headers` a no-op then, too).
pub fn send_header_if_needed(ctx: &mut RequestCtx) -> isize {
    if ctx.output.buffering {
        return NGX_OK as isize;
    }
    send_header(ctx)
}

fn send_header(ctx: &mut RequestCtx) -> isize {
    let r = ctx.r;
    // SAFETY: live request; the calls are nginx's public header API.
    unsafe {
        if (*r).header_sent() != 0 {
            return NGX_OK as isize;
        }
        if (*r).headers_out.status == 0 {
            (*r).headers_out.status = NGX_HTTP_OK as ngx_uint_t;
        }
        // lua_use_default_type: default_type unless Lua set (or cleared)
        // Content-Type itself, and never on a 304.
        if !ctx.output.mime_set {
            ctx.output.mime_set = true;
            if (*r).headers_out.content_type.len == 0
                && loc_conf(r).use_default_type()
                && (*r).headers_out.status != NGX_HTTP_NOT_MODIFIED as ngx_uint_t
                && ngx_http_set_content_type(r) != NGX_OK as isize
            {
                return NGX_ERROR as isize;
            }
        }
        ngx_http_send_header(r)
    }
}

/// `lua_http10_buffering`: the first output of an HTTP/1.0 response whose
/// length is unknown starts buffering.
fn start_buffering(ctx: &mut RequestCtx) {
    let r = ctx.r;
    // SAFETY: live request.
    unsafe {
        if !ctx.output.buffering
            && (*r).header_sent() == 0
            && (*r).http_version < NGX_HTTP_VERSION_11 as ngx_uint_t
            && (*r).headers_out.content_length_n < 0
            && loc_conf(r).http10_buffering()
        {
            ctx.output.buffering = true;
        }
    }
}

/// The tag of output buffers this module may reuse.
fn buf_tag() -> ngx_buf_tag_t {
    crate::nginx::module::as_ptr() as ngx_buf_tag_t
}

/// A one-buffer chain with room for `size` bytes: a buffer nginx already
/// sent when one is free (its memory reused, or replaced when too small),
/// otherwise a new one. Without reuse, a handler streaming a large body
/// kept every buffer it ever wrote until the request ended. Null: no
/// memory.
pub fn get_buf(ctx: &mut RequestCtx, size: usize) -> *mut ngx_chain_t {
    // SAFETY: live request; free_bufs holds links and buffers from its
    // pool that no filter references any more (update_chains moved them
    // there once they were empty).
    unsafe {
        let pool = (*ctx.r).pool;
        let cl = ctx.output.free_bufs;
        if cl.is_null() {
            let cl = ngx_alloc_chain_link(pool);
            let b = ngx_create_temp_buf(pool, size.max(1));
            if cl.is_null() || b.is_null() {
                return ptr::null_mut();
            }
            (*b).tag = buf_tag();
            (*cl).buf = b;
            (*cl).next = ptr::null_mut();
            return cl;
        }
        ctx.output.free_bufs = (*cl).next;
        (*cl).next = ptr::null_mut();
        let b = (*cl).buf;
        let (mut start, mut end) = ((*b).start, (*b).end);
        if start.is_null() || (end.offset_from(start) as usize) < size {
            if !start.is_null() {
                // Frees a large (malloc'ed) block; a small one stays in the
                // pool, as any pool memory does.
                ngx_pfree(pool, start as *mut core::ffi::c_void);
            }
            start = ngx_palloc(pool, size.max(1)) as *mut u8;
            if start.is_null() {
                return ptr::null_mut();
            }
            end = start.add(size.max(1));
        }
        ptr::write_bytes(b, 0, 1);
        (*b).start = start;
        (*b).pos = start;
        (*b).last = start;
        (*b).end = end;
        (*b).tag = buf_tag();
        (*b).set_temporary(1);
        cl
    }
}

/// After `cl` went down the filters: our buffers they are done with (all
/// data taken) move to the free list, the others wait in the busy list.
///
/// # Safety
/// `cl` is a chain from `get_buf` that was just passed to a filter.
pub unsafe fn update_chains(ctx: &mut RequestCtx, mut cl: *mut ngx_chain_t) {
    // SAFETY: live request; the chain links are ours to hand over.
    unsafe {
        ngx_chain_update_chains(
            (*ctx.r).pool,
            &mut ctx.output.free_bufs,
            &mut ctx.output.busy_bufs,
            &mut cl,
            buf_tag(),
        );
    }
}

/// `ngx_http_output_filter`, then `update_chains`.
///
/// # Safety
/// `cl` is null or a chain from `get_buf`.
unsafe fn output_filter(ctx: &mut RequestCtx, cl: *mut ngx_chain_t) -> isize {
    // SAFETY: live request; see update_chains.
    unsafe {
        let rc = ngx_http_output_filter(ctx.r, cl);
        if rc != NGX_ERROR as isize {
            update_chains(ctx, cl);
        }
        rc
    }
}

/// Passes a chain down the output filters, sending the header first.
///
/// # Safety
/// `cl` must be a chain from `get_buf`.
pub unsafe fn send_chain(ctx: &mut RequestCtx, cl: *mut ngx_chain_t) -> isize {
    start_buffering(ctx);
    // SAFETY: live request; cl and the held chain live in its pool.
    unsafe {
        if ctx.output.buffering && (*ctx.r).header_only() == 0 {
            let mut ll: *mut *mut ngx_chain_t = &mut ctx.output.out;
            while !(*ll).is_null() {
                ll = &mut (**ll).next;
            }
            *ll = cl;
            return NGX_OK as isize;
        }
        let rc = send_header_if_needed(ctx);
        if rc == NGX_ERROR as isize || rc > NGX_OK as isize || (*ctx.r).header_only() != 0 {
            return rc;
        }
        output_filter(ctx, cl)
    }
}

/// Ends HTTP/1.0 buffering: Content-Length from the held output (unless
/// Lua set one), then the header and the held chain.
fn flush_buffered(ctx: &mut RequestCtx) -> isize {
    let r = ctx.r;
    ctx.output.buffering = false;
    // SAFETY: live request; the held chain lives in its pool.
    unsafe {
        if (*r).header_sent() == 0 && (*r).headers_out.content_length_n < 0 {
            let mut size: off_t = 0;
            let mut cl = ctx.output.out;
            while !cl.is_null() {
                let b = (*cl).buf;
                size += (*b).last.offset_from((*b).pos) as off_t;
                cl = (*cl).next;
            }
            (*r).headers_out.content_length_n = size;
            if !(*r).headers_out.content_length.is_null() {
                (*(*r).headers_out.content_length).hash = 0;
                (*r).headers_out.content_length = ptr::null_mut();
            }
        }
        let rc = send_header(ctx);
        if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
            return rc;
        }
        let out = core::mem::replace(&mut ctx.output.out, ptr::null_mut());
        if out.is_null() || (*r).header_only() != 0 {
            return NGX_OK as isize;
        }
        output_filter(ctx, out)
    }
}

/// A response that ends without Lua having read the body: discard it, or
/// its bytes would be parsed as the next request on a keepalive
/// connection (upstream does this when it sends the last buffer).
fn discard_unread_body(ctx: &mut RequestCtx) -> isize {
    let r = ctx.r;
    // SAFETY: live request; nginx's documented body API.
    unsafe {
        if (*r).request_body.is_null()
            && (*r).main == r
            && ngx_http_discard_request_body(r) != NGX_OK as ngx_int_t
        {
            return NGX_ERROR as isize;
        }
    }
    NGX_OK as isize
}

/// Ends the response body (header first if needed); the content handler's
/// return value.
pub fn send_eof(ctx: &mut RequestCtx) -> isize {
    // The raw request socket owns the connection: nginx sends nothing more.
    if ctx.output.eof_sent || ctx.output.raw_socket {
        return NGX_OK as isize;
    }
    if discard_unread_body(ctx) != NGX_OK as isize {
        return NGX_ERROR as isize;
    }
    if ctx.output.buffering {
        let rc = flush_buffered(ctx);
        if rc == NGX_ERROR as isize || rc >= NGX_HTTP_SPECIAL_RESPONSE as isize {
            return rc;
        }
    }
    let rc = send_header_if_needed(ctx);
    if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
        return rc;
    }
    ctx.output.eof_sent = true;
    // SAFETY: live request.
    unsafe {
        if (*ctx.r).header_only() != 0 {
            return NGX_OK as isize;
        }
        // For a subrequest nginx makes this a `last_in_chain` buffer: what
        // tells a capture (or SSI) that the subrequest's body is complete.
        ngx_http_send_special(ctx.r, NGX_HTTP_LAST as ngx_uint_t)
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
