//! ngx.header: response headers.
use std::borrow::Cow;

use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::text;
use super::*;
use crate::nginx::log;

/// A Content-Length value as nginx's `ngx_atoof` reads it.
fn parse_off(v: &[u8]) -> Option<off_t> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(v).ok()?.parse::<off_t>().ok()
}

#[repr(C)]
pub struct FfiStr {
    pub data: *const u8,
    pub len: usize,
}

fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if n == 0 {
        &[]
    } else {
        // SAFETY: the Lua side passes n valid bytes.
        unsafe { core::slice::from_raw_parts(p, n) }
    }
}

fn ngx_bytes<'a>(s: &ngx_str_t) -> &'a [u8] {
    bytes(s.data, s.len)
}

/// The `headers_out` field nginx's header filter reads instead of the
/// generic list for this header, if any.
unsafe fn builtin_slot(
    r: *mut ngx_http_request_t,
    lower: &[u8],
) -> Option<*mut *mut ngx_table_elt_t> {
    // SAFETY: live request.
    let h = unsafe { &mut (*r).headers_out };
    Some(match lower {
        b"server" => &mut h.server,
        b"date" => &mut h.date,
        b"location" => &mut h.location,
        b"refresh" => &mut h.refresh,
        b"last-modified" => &mut h.last_modified,
        b"content-encoding" => &mut h.content_encoding,
        b"content-range" => &mut h.content_range,
        b"accept-ranges" => &mut h.accept_ranges,
        b"www-authenticate" => &mut h.www_authenticate,
        b"expires" => &mut h.expires,
        b"etag" => &mut h.etag,
        _ => return None,
    })
}

unsafe fn pool_str(r: *mut ngx_http_request_t, s: &[u8]) -> Option<ngx_str_t> {
    // SAFETY: live request pool.
    unsafe {
        let p = ngx_pnalloc((*r).pool, s.len().max(1)) as *mut u8;
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        Some(ngx_str_t {
            len: s.len(),
            data: p,
        })
    }
}

/// Visits the live (hash != 0) entries of the response header list.
unsafe fn for_each_header(r: *mut ngx_http_request_t, mut f: impl FnMut(*mut ngx_table_elt_t)) {
    // SAFETY: nginx's list of parts of ngx_table_elt_t.
    unsafe {
        let mut part: *mut ngx_list_part_t = &mut (*r).headers_out.headers.part;
        while !part.is_null() {
            let elts = (*part).elts as *mut ngx_table_elt_t;
            for i in 0..(*part).nelts {
                let e = elts.add(i);
                if (*e).hash != 0 {
                    f(e);
                }
            }
            part = (*part).next;
        }
    }
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ngx_lua_ffi_set_resp_header(
    key: *const u8,
    key_len: usize,
    is_nil: c_int,
    sval: *const u8,
    sval_len: usize,
    mvals: *const FfiStr,
    mvals_len: usize,
    override_: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = match unsafe { request_in(REQUEST_PHASES, err, errlen) } {
            Ok(c) => c,
            Err(rc) => return rc,
        };
        let r = ctx.r;
        // SAFETY: live request; values are copied into its pool.
        unsafe {
            if (*r).header_sent() != 0 {
                log::log_error(
                    NGX_LOG_ERR,
                    (*(*r).connection).log,
                    b"attempt to set ngx.header.HEADER after sending out response headers",
                );
                return FFI_DECLINED;
            }
            let lcf = crate::conf::loc_conf(r);
            let raw = bytes(key, key_len);
            let transformed: Cow<'_, [u8]> = if lcf.transform_underscores() && raw.contains(&b'_') {
                Cow::Owned(
                    raw.iter()
                        .map(|&c| if c == b'_' { b'-' } else { c })
                        .collect(),
                )
            } else {
                Cow::Borrowed(raw)
            };
            // As upstream, bytes that could split the response (CR, LF,
            // other controls; separators in names) are percent-escaped,
            // not refused.
            let name = text::escape_header(&transformed, true);
            let lower = name.to_ascii_lowercase();
            let mut values: Vec<Cow<'_, [u8]>> = Vec::new();
            if is_nil == 0 {
                if mvals.is_null() {
                    values.push(text::escape_header(bytes(sval, sval_len), false));
                } else {
                    for i in 0..mvals_len {
                        let s = &*mvals.add(i);
                        values.push(text::escape_header(bytes(s.data, s.len), false));
                    }
                }
            }

            if lower == b"content-type" {
                ctx.mime_set = true;
                match values.last() {
                    None => {
                        (*r).headers_out.content_type.len = 0;
                        (*r).headers_out.content_type_len = 0;
                    }
                    Some(v) => {
                        let Some(s) = pool_str(r, v) else {
                            set_err(err, errlen, b"no memory");
                            return FFI_ERROR;
                        };
                        (*r).headers_out.content_type = s;
                        (*r).headers_out.content_type_len = s.len;
                    }
                }
                (*r).headers_out.content_type_lowcase = ptr::null_mut();
                (*r).headers_out.content_type_hash = 0;
                (*r).headers_out.charset.len = 0;
                return FFI_OK;
            }
            if lower == b"content-length" {
                let n = match values.last() {
                    None => -1,
                    // nginx's ngx_atoof: decimal digits only.
                    Some(v) => match parse_off(v) {
                        Some(n) => n,
                        None => {
                            set_err(err, errlen, b"failed to set header");
                            return FFI_ERROR;
                        }
                    },
                };
                if !(*r).headers_out.content_length.is_null() {
                    (*(*r).headers_out.content_length).hash = 0;
                    (*r).headers_out.content_length = ptr::null_mut();
                }
                (*r).headers_out.content_length_n = n;
                return FFI_OK;
            }

            let slot = builtin_slot(r, &lower);
            if override_ != 0 || is_nil != 0 {
                for_each_header(r, |e| {
                    if ngx_bytes(&(*e).key).eq_ignore_ascii_case(&lower) {
                        (*e).hash = 0;
                    }
                });
                if let Some(s) = slot {
                    *s = ptr::null_mut();
                }
                if lower == b"last-modified" {
                    (*r).headers_out.last_modified_time = -1;
                }
            }
            for v in values {
                let e = ngx_list_push(&mut (*r).headers_out.headers) as *mut ngx_table_elt_t;
                if e.is_null() {
                    return FFI_ERROR;
                }
                ptr::write_bytes(e, 0, 1);
                let (Some(k), Some(val), Some(lk)) =
                    (pool_str(r, &name), pool_str(r, &v), pool_str(r, &lower))
                else {
                    return FFI_ERROR;
                };
                (*e).hash = 1;
                (*e).key = k;
                (*e).value = val;
                (*e).lowcase_key = lk.data;
                if let Some(s) = slot {
                    if (*s).is_null() {
                        *s = e;
                    }
                }
            }
            FFI_OK
        }
    })
}

/// Fills up to `max` values of header `key`; returns how many exist.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_get_resp_header(
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    values: *mut FfiStr,
    max: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = match unsafe { request_in(REQUEST_PHASES, err, errlen) } {
            Ok(c) => c,
            Err(rc) => return rc,
        };
        let r = ctx.r;
        // SAFETY: live request.
        let transform = unsafe { crate::conf::loc_conf(r) }.transform_underscores();
        let lower: Vec<u8> = bytes(key, key_len)
            .iter()
            .map(|&c| {
                if c == b'_' && transform {
                    b'-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        // SAFETY: live request; output arrays sized `max` by the caller.
        unsafe {
            if lower == b"content-type" {
                let ct = &(*r).headers_out.content_type;
                if ct.len == 0 {
                    return 0;
                }
                *values = FfiStr {
                    data: ct.data,
                    len: ct.len,
                };
                return 1;
            }
            if lower == b"content-length" && (*r).headers_out.content_length_n >= 0 {
                let s = (*r).headers_out.content_length_n.to_string();
                ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len());
                *values = FfiStr {
                    data: buf,
                    len: s.len(),
                };
                return 1;
            }
            let mut n = 0usize;
            for_each_header(r, |e| {
                if ngx_bytes(&(*e).key).eq_ignore_ascii_case(&lower) {
                    if n < max {
                        *values.add(n) = FfiStr {
                            data: (*e).value.data,
                            len: (*e).value.len,
                        };
                    }
                    n += 1;
                }
            });
            n as c_int
        }
    })
}

/// `ngx.resp.get_headers(max, raw)`: fills `out` (sized `count` by the
/// caller, or 0 to only count) with Content-Type, Content-Length and the
/// live list elements; returns how many exist. `buf` (32 bytes) receives
/// the Content-Length digits.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_resp_get_headers(
    out: *mut super::req::FfiKv,
    count: c_int,
    raw: c_int,
    buf: *mut u8,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = match unsafe { request_in(REQUEST_PHASES, err, errlen) } {
            Ok(c) => c,
            Err(rc) => return rc,
        };
        let r = ctx.r;
        let mut n = 0usize;
        // SAFETY: live request; out holds `count` entries, buf 32 bytes.
        unsafe {
            let mut push = |k: &'static [u8], kl: &'static [u8], v: *const u8, vl: usize| {
                if n < count as usize {
                    let key = if raw != 0 { k } else { kl };
                    *out.add(n) = super::req::FfiKv {
                        key: key.as_ptr(),
                        key_len: key.len(),
                        value: v,
                        value_len: vl as isize,
                    };
                }
                n += 1;
            };
            let ct = &(*r).headers_out.content_type;
            if ct.len > 0 {
                push(b"Content-Type", b"content-type", ct.data, ct.len);
            }
            if (*r).headers_out.content_length.is_null() && (*r).headers_out.content_length_n >= 0 {
                let s = (*r).headers_out.content_length_n.to_string();
                ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len().min(32));
                push(b"Content-Length", b"content-length", buf, s.len().min(32));
            }
            for_each_header(r, |e| {
                if n < count as usize {
                    let key = if raw != 0 || (*e).lowcase_key.is_null() {
                        (*e).key.data
                    } else {
                        (*e).lowcase_key
                    };
                    *out.add(n) = super::req::FfiKv {
                        key,
                        key_len: (*e).key.len,
                        value: (*e).value.data,
                        value_len: (*e).value.len as isize,
                    };
                }
                n += 1;
            });
        }
        n as c_int
    })
}
