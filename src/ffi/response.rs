//! ngx.header, ngx.resp.add_header, ngx.resp.get_headers: response headers.
//!
//! Names and values are percent-escaped, copied into the request pool and
//! set the way upstream's table of nginx's output headers says
//! (`nginx::headers_out`).
use std::borrow::Cow;

use core::ffi::c_int;

use super::*;
use crate::codec::text;
use crate::conf::LocConf;
use crate::nginx::headers_out::OutValue;

export! {
    /// `ngx.header[key] = value` (`override_` 1) and `ngx.resp.add_header`
    /// (`override_` 0): the first value overrides per `override_`, further
    /// values of a table are added; nil (`is_nil`) clears the header.
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_set_resp_header(
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
        let mut err = err_out!(err, errlen);
        let ctx = running!(raise_in_timer: REQUEST_PHASES, err);
        let r = ctx.req();
        if header_sent_already(r, "ngx.header.HEADER") {
            return FFI_DECLINED;
        }
        let raw = lua_bytes!(key, key_len);
        let transformed: Cow<'_, [u8]> =
            if LocConf::of(r).transform_underscores() && raw.contains(&b'_') {
                Cow::Owned(
                    raw.iter()
                        .map(|&c| if c == b'_' { b'-' } else { c })
                        .collect(),
                )
            } else {
                Cow::Borrowed(raw)
            };
        // As upstream, bytes that could split the response (CR, LF, other
        // controls; separators in names) are percent-escaped, not refused.
        let Some(key) = r.out_key(&text::escape_header(&transformed, true)) else {
            err.set(b"no memory");
            return FFI_ERROR;
        };
        if key.lower() == b"content-type" {
            // Lua set (or cleared) the type: no default type is added.
            ctx.output.mime_set = true;
        }
        let value = |v: &[u8]| r.out_value(&text::escape_header(v, false)).ok_or(&b"no memory"[..]);
        let res = if is_nil != 0 {
            r.set_out_header(&key, OutValue::EMPTY, override_ == 0)
        } else if mvals.is_null() {
            value(lua_bytes!(sval, sval_len))
                .and_then(|v| r.set_out_header(&key, v, override_ == 0))
        } else {
            lua_slice!(mvals, mvals_len)
                .iter()
                .enumerate()
                .try_for_each(|(i, s)| {
                    let v = value(lua_bytes!(s.data, s.len))?;
                    r.set_out_header(&key, v, !(override_ != 0 && i == 0))
                })
        };
        match res {
            Ok(()) => FFI_OK,
            Err(msg) => {
                err.set(msg);
                FFI_ERROR
            }
        }
    }
}

/// Room `nginx::time::http_time` wants for a Last-Modified date.
const TIME_BUF: usize = crate::nginx::time::HTTP_TIME_MAX;

/// Copies `s` into lua-lib's scratch buffer (cut to its size), as the
/// value handed back.
fn put<'a>(buf: &'a mut [u8], s: &[u8]) -> &'a [u8] {
    let n = s.len().min(buf.len());
    buf[..n].copy_from_slice(&s[..n]);
    &buf[..n]
}

export! {
    /// Fills up to `max` values of header `key`; returns how many exist.
    /// `buf` (32 bytes) receives formatted values (Content-Length,
    /// Last-Modified).
    fn ngx_lua_ffi_get_resp_header(
        key: *const u8,
        key_len: usize,
        buf: *mut u8,
        values: *mut FfiStr,
        max: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let ctx = running!(REQUEST_PHASES, err);
        let r = ctx.req();
        let transform = LocConf::of(r).transform_underscores();
        let raw = lua_bytes!(key, key_len);
        // Header names are short: lower-case on the stack, not the heap.
        let mut stack = [0u8; 64];
        let mut heap = Vec::new();
        let lower: &mut [u8] = if raw.len() <= stack.len() {
            &mut stack[..raw.len()]
        } else {
            heap.resize(raw.len(), 0);
            &mut heap
        };
        for (d, &c) in lower.iter_mut().zip(raw) {
            *d = if c == b'_' && transform {
                b'-'
            } else {
                c.to_ascii_lowercase()
            };
        }
        let lower = &*lower;
        let buf = lua_buf!(buf, 32);
        let values = lua_buf!(values, max);
        let mut one = |v: &[u8]| {
            if let Some(slot) = values.first_mut() {
                *slot = FfiStr {
                    data: v.as_ptr(),
                    len: v.len(),
                };
            }
            1
        };
        match lower {
            b"content-type" if !r.content_type().is_empty() => return one(r.content_type()),
            b"content-length" => {
                if let Some(n) = r.computed_content_length() {
                    return one(put(buf, n.to_string().as_bytes()));
                }
            }
            // The time nginx will send, also for a static file's (which
            // has no element).
            b"last-modified" => {
                let t = r.last_modified_time();
                if t < 0 {
                    return 0;
                }
                let mut tmp = [0u8; TIME_BUF];
                let n = crate::nginx::time::http_time(t, false, &mut tmp);
                return one(put(buf, &tmp[..n]));
            }
            _ => {}
        }
        let mut n = 0usize;
        r.each_out_header(|k, v| {
            if k.eq_ignore_ascii_case(lower) {
                if let Some(slot) = values.get_mut(n) {
                    *slot = FfiStr {
                        data: v.as_ptr(),
                        len: v.len(),
                    };
                }
                n += 1;
            }
        });
        n as c_int
    }
}

export! {
    /// `ngx.resp.get_headers(max, raw)`: fills `out` (sized `count` by the
    /// caller, or 0 to only count) and returns how many entries there are:
    /// Content-Type, Content-Length, Connection and Transfer-Encoding as
    /// nginx will send them (always lower case, as upstream), then the
    /// live list elements, cut as upstream counts when `max` is exceeded
    /// (`*truncated`). `buf` (32 bytes) receives the Content-Length digits.
    #[allow(clippy::too_many_arguments)]
    fn ngx_lua_ffi_resp_get_headers(
        out: *mut FfiKv,
        count: c_int,
        max: c_int,
        buf: *mut u8,
        truncated: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let ctx = running!(REQUEST_PHASES, err);
        let r = ctx.req();
        let out = lua_buf!(out, usize::try_from(count).unwrap_or(0));
        let buf = lua_buf!(buf, 32);
        let mut n = 0usize;
        let mut push = |k: &[u8], v: &[u8]| {
            if let Some(slot) = out.get_mut(n) {
                *slot = FfiKv::new(k.as_ptr(), k.len(), v.as_ptr(), v.len());
            }
            n += 1;
        };
        let mut extra = 0usize;
        if !r.content_type().is_empty() {
            extra += 1;
            push(b"content-type", r.content_type());
        }
        if let Some(len) = r.computed_content_length() {
            extra += 1;
            push(b"content-length", put(buf, len.to_string().as_bytes()));
        }
        let conn: &'static [u8] =
            if r.status() == nginx_sys::NGX_HTTP_SWITCHING_PROTOCOLS as nginx_sys::ngx_uint_t {
                b"upgrade"
            } else if r.keepalive() {
                b"keep-alive"
            } else {
                b"close"
            };
        extra += 1;
        push(b"connection", conn);
        if r.chunked() {
            extra += 1;
            push(b"transfer-encoding", b"chunked");
        }
        // Upstream counts every list element, cleared ones too.
        let total = r.out_header_slots();
        let mut left = total as isize;
        out!(truncated, 0);
        if max > 0 && total + extra > max as usize {
            out!(truncated, 1);
            r.log_error(
                nginx_sys::NGX_LOG_DEBUG,
                format!("lua exceeding response header limit {} > {max}", total + extra).as_bytes(),
            );
            left = max as isize - extra as isize;
        }
        // The names as set: elements from other modules may not have a
        // lowcase_key at all, so the Lua side lowers them itself.
        r.each_out_header(|k, v| {
            if left <= 0 {
                return;
            }
            push(k, v);
            left -= 1;
        });
        n as c_int
    }
}
