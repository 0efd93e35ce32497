//! ngx.exec, ngx.redirect.
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::*;
use crate::codec::text;
use crate::http::ctx::Exec;
use crate::nginx::str::{bytes, pool_str};

const EXEC_PHASES: u32 = crate::lua::phase::HANDLER_PHASES;

/// Records `ngx.exec(uri, args)`; `FFI_OK`: the Lua side yields and the
/// phase code performs the redirect. `args` (already encoded by Lua) is
/// appended to any query string in `uri`.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_exec(
    uri: *const u8,
    uri_len: usize,
    args: *const u8,
    args_len: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(EXEC_PHASES, err, errlen);
        let r = ctx.r;
        let fail = |msg: &[u8]| {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, msg) };
            FFI_ERROR
        };
        if uri_len == 0 {
            return fail(b"The uri argument is empty");
        }
        if ctx.phases.pending_captures > 0 {
            return fail(PENDING_SUBREQUESTS);
        }
        // SAFETY: live request; strings copied into its pool.
        unsafe {
            let Some(mut u) = pool_str(r, bytes(uri, uri_len)) else {
                return fail(b"no memory");
            };
            let mut a = ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            };
            let mut flags: ngx_uint_t = NGX_HTTP_LOG_UNSAFE as ngx_uint_t;
            if ngx_http_parse_unsafe_uri(r, &mut u, &mut a, &mut flags) != NGX_OK as ngx_int_t {
                return fail(b"unsafe uri");
            }
            let extra = bytes(args, args_len);
            if !extra.is_empty() {
                let mut joined = bytes(a.data, a.len).to_vec();
                if !joined.is_empty() {
                    joined.push(b'&');
                }
                joined.extend_from_slice(extra);
                let Some(s) = pool_str(r, &joined) else {
                    return fail(b"no memory");
                };
                a = s;
            }
            if (*r).header_sent() != 0 {
                return fail(b"attempt to call ngx.exec after sending out response headers");
            }
            ctx.phases.exec = Some(Exec { uri: u, args: a });
            ctx.exit_code = Some(NGX_DONE as isize);
        }
        FFI_OK
    })
}

/// `ngx.redirect(uri, status)`: sets `Location` and exits with `status`.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_redirect(
    uri: *const u8,
    uri_len: usize,
    status: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(EXEC_PHASES, err, errlen);
        let r = ctx.r;
        let fail = |msg: &[u8]| {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, msg) };
            FFI_ERROR
        };
        if ctx.phases.pending_captures > 0 {
            return fail(PENDING_SUBREQUESTS);
        }
        if ![301, 302, 303, 307, 308].contains(&status) {
            return fail(
                b"only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, \
                  ngx.HTTP_PERMANENT_REDIRECT, ngx.HTTP_SEE_OTHER, and \
                  ngx.HTTP_TEMPORARY_REDIRECT are allowed",
            );
        }
        // SAFETY: live request; the header lives in its pool.
        unsafe {
            if (*r).header_sent() != 0 {
                return fail(b"attempt to call ngx.redirect after sending out the headers");
            }
            let u = bytes(uri, uri_len);
            if let Some(b) = text::unsafe_uri_byte(u) {
                return fail(
                    format!(
                        "unsafe byte \"0x{b:02x}\" in redirect uri \"{}\"",
                        text::escape_log(u)
                    )
                    .as_bytes(),
                );
            }
            let h = ngx_list_push(&mut (*r).headers_out.headers) as *mut ngx_table_elt_t;
            let Some(v) = pool_str(r, u) else {
                return fail(b"no memory");
            };
            if h.is_null() {
                return fail(b"no memory");
            }
            ptr::write_bytes(h, 0, 1);
            (*h).hash = 1;
            (*h).key = ngx_str_t {
                len: 8,
                data: c"Location".as_ptr() as *mut u8,
            };
            (*h).lowcase_key = c"location".as_ptr() as *mut u8;
            (*h).value = v;
            if !(*r).headers_out.location.is_null() {
                (*(*r).headers_out.location).hash = 0;
                (*r).headers_out.location = ptr::null_mut();
            }
            // As upstream, a relative target is left out of
            // headers_out.location, so nginx's header filter does not turn
            // it into an absolute URL.
            if u.first() != Some(&b'/') {
                (*r).headers_out.location = h;
            }
            ctx.exit_code = Some(status as isize);
        }
        FFI_OK
    })
}
