//! ngx.header: response headers.
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::*;
use crate::nginx::log;

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
            // lua_transform_underscores_in_response_headers (default on).
            let name: Vec<u8> = bytes(key, key_len)
                .iter()
                .map(|&c| if c == b'_' { b'-' } else { c })
                .collect();
            let lower = name.to_ascii_lowercase();
            let mut values: Vec<&[u8]> = Vec::new();
            if is_nil == 0 {
                if mvals.is_null() {
                    values.push(bytes(sval, sval_len));
                } else {
                    for i in 0..mvals_len {
                        let s = &*mvals.add(i);
                        values.push(bytes(s.data, s.len));
                    }
                }
            }
            if values
                .iter()
                .any(|v| v.contains(&b'\r') || v.contains(&b'\n'))
            {
                set_err(err, errlen, b"invalid header value: contains CR or LF");
                return FFI_ERROR;
            }

            if lower == b"content-type" {
                match values.last() {
                    None => {
                        (*r).headers_out.content_type.len = 0;
                        (*r).headers_out.content_type_len = 0;
                    }
                    Some(v) => {
                        let Some(s) = pool_str(r, v) else {
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
                if !(*r).headers_out.content_length.is_null() {
                    (*(*r).headers_out.content_length).hash = 0;
                    (*r).headers_out.content_length = ptr::null_mut();
                }
                match values.last() {
                    None => (*r).headers_out.content_length_n = -1,
                    Some(v) => match core::str::from_utf8(v)
                        .ok()
                        .and_then(|s| s.trim().parse::<i64>().ok())
                    {
                        Some(n) if n >= 0 => (*r).headers_out.content_length_n = n as off_t,
                        _ => {
                            set_err(err, errlen, b"invalid Content-Length header value");
                            return FFI_ERROR;
                        }
                    },
                }
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
                    (pool_str(r, &name), pool_str(r, v), pool_str(r, &lower))
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
        let lower: Vec<u8> = bytes(key, key_len)
            .iter()
            .map(|&c| {
                if c == b'_' {
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
                    *out.add(n) = super::req::FfiKv::new(key.as_ptr(), key.len(), v, vl);
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
                    *out.add(n) =
                        super::req::FfiKv::new(key, (*e).key.len, (*e).value.data, (*e).value.len);
                }
                n += 1;
            });
        }
        n as c_int
    })
}
