//! A whole response from one buffer, as nginx's own small content handlers
//! (`stub_status`) send theirs: for handlers of ours that run no Lua.
use nginx_sys::*;

use super::request::{Rc, Request};

/// Sends `body` with status 200 and `content_type` (a static string), the
/// request body discarded; returns what the content handler returns.
/// Only GET and HEAD are allowed (405 otherwise), as `stub_status`.
pub fn send_static(r: Request, content_type: &'static [u8], body: &[u8]) -> Rc {
    if r.method() & (NGX_HTTP_GET | NGX_HTTP_HEAD) as ngx_uint_t == 0 {
        return NGX_HTTP_NOT_ALLOWED as Rc;
    }
    let rc = r.discard_client_body();
    if rc != NGX_OK as Rc {
        return rc;
    }
    let p = r.as_ptr();
    // SAFETY: the live request of a content handler; the content type is
    // static, so nginx may keep pointing at it.
    unsafe {
        (*p).headers_out.status = NGX_HTTP_OK as ngx_uint_t;
        (*p).headers_out.content_length_n = body.len() as off_t;
        (*p).headers_out.content_type_len = content_type.len();
        (*p).headers_out.content_type = ngx_str_t {
            len: content_type.len(),
            data: content_type.as_ptr() as *mut u8,
        };
        (*p).headers_out.content_type_lowcase = core::ptr::null_mut();
    }
    if body.is_empty() || r.header_only() {
        // SAFETY: as above.
        unsafe { (*p).set_header_only(1) };
    }
    let rc = r.send_header();
    if rc == NGX_ERROR as Rc || rc > NGX_OK as Rc || r.header_only() {
        return rc;
    }
    // SAFETY: a temporary buffer and a chain link of the request pool,
    // filled before they are handed to the filters, which own them then.
    unsafe {
        let b = ngx_create_temp_buf(r.pool(), body.len());
        if b.is_null() {
            return NGX_ERROR as Rc;
        }
        core::ptr::copy_nonoverlapping(body.as_ptr(), (*b).last, body.len());
        (*b).last = (*b).last.add(body.len());
        (*b).set_last_buf(if r.is_main() { 1 } else { 0 });
        (*b).set_last_in_chain(1);
        let mut out = ngx_chain_t {
            buf: b,
            next: core::ptr::null_mut(),
        };
        ngx_http_output_filter(p, &mut out)
    }
}
