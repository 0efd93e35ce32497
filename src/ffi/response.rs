//! ngx.header, ngx.resp.add_header, ngx.resp.get_headers: response headers.
//!
//! Setting follows upstream's table of nginx's built-in output headers:
//! the ones nginx's header filter reads from a `headers_out` field (Server,
//! Location, Last-Modified, ...) keep that field pointing at their element,
//! Cache-Control and Link (and WWW-Authenticate since nginx 1.23) keep
//! nginx's list of values, Content-Type and Content-Length go to their
//! dedicated fields, and every other header replaces its elements in the
//! list in place. Names and values are percent-escaped first.
use std::borrow::Cow;

use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::*;
use crate::codec::text;
use crate::nginx::log;

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

const EMPTY: ngx_str_t = ngx_str_t {
    len: 0,
    data: ptr::null_mut(),
};

/// The `headers_out` field of a header nginx keeps one element of.
unsafe fn single_slot(
    r: *mut ngx_http_request_t,
    lower: &[u8],
) -> Option<*mut *mut ngx_table_elt_t> {
    // SAFETY: live request.
    let h = unsafe { &mut (*r).headers_out };
    Some(match lower {
        b"server" => &mut h.server,
        b"date" => &mut h.date,
        b"content-encoding" => &mut h.content_encoding,
        b"refresh" => &mut h.refresh,
        b"content-range" => &mut h.content_range,
        b"accept-ranges" => &mut h.accept_ranges,
        b"expires" => &mut h.expires,
        b"etag" | b"e-tag" => &mut h.etag,
        _ => return None,
    })
}

/// The `headers_out` field of a header nginx keeps several values of: a
/// chain through `next` (nginx >= 1.23; before, WWW-Authenticate has a
/// single-element field that nginx's header filter does not read, so it is
/// set as a plain list header there) ...
#[cfg(ngx_lua_nginx_ge_1_25)]
type MultiField = *mut *mut ngx_table_elt_t;
/// ... or an array of element pointers (before).
#[cfg(not(ngx_lua_nginx_ge_1_25))]
type MultiField = *mut ngx_array_t;

unsafe fn multi_field(r: *mut ngx_http_request_t, lower: &[u8]) -> Option<MultiField> {
    // SAFETY: live request.
    let h = unsafe { &mut (*r).headers_out };
    Some(match lower {
        b"cache-control" => &mut h.cache_control,
        b"link" => &mut h.link,
        #[cfg(ngx_lua_nginx_ge_1_25)]
        b"www-authenticate" => &mut h.www_authenticate,
        _ => return None,
    })
}

/// One header being set: its (escaped) name in the request pool, lower
/// case, and the hash nginx filters use to tell live elements.
struct Key {
    name: ngx_str_t,
    lower: ngx_str_t,
    hash: ngx_uint_t,
}

impl Key {
    fn lower(&self) -> &[u8] {
        ngx_bytes(&self.lower)
    }
}

unsafe fn pool_str(r: *mut ngx_http_request_t, s: &[u8]) -> Option<ngx_str_t> {
    // SAFETY: live request.
    unsafe { Request::from_raw(r) }?.pool_cstr(s)
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

/// Appends a list element (cleared, hash 0, when `value` is empty: some
/// built-in slots still need one).
unsafe fn push_header(
    r: *mut ngx_http_request_t,
    key: &Key,
    value: ngx_str_t,
) -> Result<*mut ngx_table_elt_t, &'static [u8]> {
    // SAFETY: live request; the element lives in its list.
    unsafe {
        let e = ngx_list_push(&mut (*r).headers_out.headers) as *mut ngx_table_elt_t;
        if e.is_null() {
            return Err(b"no memory");
        }
        ptr::write_bytes(e, 0, 1);
        (*e).hash = if value.len == 0 { 0 } else { key.hash };
        (*e).key = key.name;
        (*e).value = value;
        (*e).lowcase_key = key.lower.data;
        Ok(e)
    }
}

/// A header without a field of its own. Overriding: the first live
/// element of that name takes the value (or all are cleared), in place;
/// otherwise (or with `no_override`) a new element is appended. `slot`
/// receives the element holding the value.
unsafe fn set_generic(
    r: *mut ngx_http_request_t,
    key: &Key,
    value: ngx_str_t,
    no_override: bool,
    slot: Option<*mut *mut ngx_table_elt_t>,
    no_create: bool,
) -> Result<(), &'static [u8]> {
    // SAFETY: live request and its header list.
    unsafe {
        if !no_override {
            let mut matched = false;
            for_each_header(r, |e| {
                if !ngx_bytes(&(*e).key).eq_ignore_ascii_case(key.lower()) {
                    return;
                }
                if value.len == 0 || matched {
                    (*e).value.len = 0;
                    (*e).hash = 0;
                } else {
                    (*e).value = value;
                    (*e).hash = key.hash;
                    if let Some(s) = slot {
                        *s = e;
                    }
                }
                matched = true;
            });
            if matched || (no_create && value.len == 0) {
                return Ok(());
            }
        }
        let e = push_header(r, key, value)?;
        if let Some(s) = slot {
            *s = e;
        }
        Ok(())
    }
}

/// A header nginx keeps one element of in `*slot`.
unsafe fn set_single(
    r: *mut ngx_http_request_t,
    slot: *mut *mut ngx_table_elt_t,
    key: &Key,
    value: ngx_str_t,
    no_override: bool,
) -> Result<(), &'static [u8]> {
    // SAFETY: slot is a headers_out field of the live request.
    unsafe {
        let h = *slot;
        if h.is_null() {
            return set_generic(r, key, value, no_override, Some(slot), false);
        }
        if value.len == 0 {
            (*h).hash = 0;
            (*h).value = value;
        } else {
            (*h).hash = key.hash;
            (*h).key = key.name;
            (*h).value = value;
        }
        Ok(())
    }
}

/// A header nginx keeps several values of (Cache-Control, Link, ...):
/// with `no_override` the value fills a cleared entry or is added;
/// otherwise it replaces the first value and clears the others.
#[cfg(ngx_lua_nginx_ge_1_25)]
unsafe fn set_multi(
    r: *mut ngx_http_request_t,
    field: MultiField,
    key: &Key,
    value: ngx_str_t,
    no_override: bool,
) -> Result<(), &'static [u8]> {
    // SAFETY: field is a headers_out chain of the live request.
    unsafe {
        if no_override {
            let mut h = *field;
            while !h.is_null() {
                if (*h).hash == 0 {
                    (*h).value = value;
                    (*h).hash = key.hash;
                    return Ok(());
                }
                h = (*h).next;
            }
        } else if !(*field).is_null() {
            let first = *field;
            let mut h = (*first).next;
            while !h.is_null() {
                (*h).hash = 0;
                (*h).value.len = 0;
                h = (*h).next;
            }
            (*first).value = value;
            (*first).hash = if value.len == 0 { 0 } else { key.hash };
            return Ok(());
        } else {
            // Elements nginx did not chain (copied from an upstream).
            let mut matched = false;
            for_each_header(r, |e| {
                if !ngx_bytes(&(*e).key).eq_ignore_ascii_case(key.lower()) {
                    return;
                }
                if matched || value.len == 0 {
                    (*e).hash = 0;
                    (*e).value.len = 0;
                } else {
                    (*e).value = value;
                    (*e).hash = key.hash;
                    (*e).next = ptr::null_mut();
                    *field = e;
                }
                matched = true;
            });
            if matched {
                return Ok(());
            }
        }
        let mut tail = field;
        while !(*tail).is_null() {
            tail = &mut (**tail).next;
        }
        *tail = push_header(r, key, value)?;
        Ok(())
    }
}

#[cfg(not(ngx_lua_nginx_ge_1_25))]
unsafe fn set_multi(
    r: *mut ngx_http_request_t,
    field: MultiField,
    key: &Key,
    value: ngx_str_t,
    no_override: bool,
) -> Result<(), &'static [u8]> {
    // SAFETY: field is a headers_out array of element pointers of the
    // live request; ngx_array_init is a static inline function in C.
    unsafe {
        let pa = field;
        if (*pa).elts.is_null() {
            let size = core::mem::size_of::<*mut ngx_table_elt_t>();
            (*pa).elts = ngx_palloc((*r).pool, 2 * size);
            if (*pa).elts.is_null() {
                return Err(b"no memory");
            }
            (*pa).nelts = 0;
            (*pa).size = size;
            (*pa).nalloc = 2;
            (*pa).pool = (*r).pool;
        }
        let elts = |pa: *mut ngx_array_t| {
            core::slice::from_raw_parts((*pa).elts as *const *mut ngx_table_elt_t, (*pa).nelts)
        };
        if no_override {
            for &h in elts(pa) {
                if (*h).hash == 0 {
                    (*h).value = value;
                    (*h).hash = key.hash;
                    return Ok(());
                }
            }
        } else if (*pa).nelts > 0 {
            let all = elts(pa);
            for &h in &all[1..] {
                (*h).hash = 0;
                (*h).value.len = 0;
            }
            (*all[0]).value = value;
            (*all[0]).hash = if value.len == 0 { 0 } else { key.hash };
            return Ok(());
        } else {
            // Elements nginx did not record (copied from an upstream).
            let mut matched = false;
            let mut failed = false;
            for_each_header(r, |e| {
                if !ngx_bytes(&(*e).key).eq_ignore_ascii_case(key.lower()) {
                    return;
                }
                if matched || value.len == 0 {
                    (*e).hash = 0;
                    (*e).value.len = 0;
                } else {
                    (*e).value = value;
                    (*e).hash = key.hash;
                    let ph = ngx_array_push(pa) as *mut *mut ngx_table_elt_t;
                    if ph.is_null() {
                        failed = true;
                    } else {
                        *ph = e;
                    }
                }
                matched = true;
            });
            if failed {
                return Err(b"no memory");
            }
            if matched {
                return Ok(());
            }
        }
        let ph = ngx_array_push(pa) as *mut *mut ngx_table_elt_t;
        if ph.is_null() {
            return Err(b"no memory");
        }
        *ph = push_header(r, key, value)?;
        Ok(())
    }
}

/// Sets one value of a response header (empty: clear it).
unsafe fn set_one(
    r: *mut ngx_http_request_t,
    ctx: &mut RequestCtx,
    key: &Key,
    value: ngx_str_t,
    no_override: bool,
) -> Result<(), &'static [u8]> {
    // SAFETY: live request; value lives in its pool.
    unsafe {
        let ho = &mut (*r).headers_out;
        match key.lower() {
            b"content-type" => {
                ctx.output.mime_set = true;
                // nginx matches types (gzip_types, ...) on the part
                // before any parameters.
                let v = ngx_bytes(&value);
                ho.content_type_len = v.iter().position(|&c| c == b';').unwrap_or(v.len());
                ho.content_type = value;
                ho.content_type_hash = 0;
                ho.content_type_lowcase = ptr::null_mut();
                // A Content-Type element in the list would be sent too.
                set_generic(r, key, EMPTY, no_override, None, true)
            }
            b"content-length" => {
                if value.len == 0 {
                    ho.content_length_n = -1;
                } else {
                    ho.content_length_n =
                        text::parse_off(ngx_bytes(&value)).ok_or(&b"failed to set header"[..])?;
                }
                set_single(r, &mut ho.content_length, key, value, no_override)
            }
            b"last-modified" => {
                ho.last_modified_time = if value.len == 0 {
                    -1
                } else {
                    ngx_parse_http_time(value.data, value.len)
                };
                set_single(r, &mut ho.last_modified, key, value, no_override)
            }
            b"location" => {
                set_single(r, &mut ho.location, key, value, no_override)?;
                // As upstream, a relative Location stays out of the field
                // so nginx's header filter does not make it absolute.
                let h = ho.location;
                if !h.is_null() && (*h).value.len > 0 && *(*h).value.data == b'/' {
                    ho.location = ptr::null_mut();
                }
                Ok(())
            }
            lower => {
                if let Some(slot) = single_slot(r, lower) {
                    set_single(r, slot, key, value, no_override)
                } else if let Some(field) = multi_field(r, lower) {
                    set_multi(r, field, key, value, no_override)
                } else {
                    set_generic(r, key, value, no_override, None, false)
                }
            }
        }
    }
}

/// `ngx.header[key] = value` (`override_` 1) and `ngx.resp.add_header`
/// (`override_` 0): the first value overrides per `override_`, further
/// values of a table are added; nil (`is_nil`) clears the header.
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
        let ctx = request_in!(REQUEST_PHASES, err, errlen);
        let r = ctx.r;
        // SAFETY: live request; names and values are copied into its pool.
        unsafe {
            if header_already_sent(r, "ngx.header.HEADER") {
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
            let (Some(name), Some(lower)) = (pool_str(r, &name), pool_str(r, &name)) else {
                set_err(err, errlen, b"no memory");
                return FFI_ERROR;
            };
            // Lower-cased in the pool copy: no heap allocation per call.
            core::slice::from_raw_parts_mut(lower.data, lower.len).make_ascii_lowercase();
            let key = Key {
                name,
                lower,
                hash: ngx_hash_key(lower.data, lower.len).max(1),
            };
            let value = |v: &[u8]| pool_str(r, &text::escape_header(v, false));
            let res = if is_nil != 0 {
                set_one(r, ctx, &key, EMPTY, override_ == 0)
            } else if mvals.is_null() {
                match value(bytes(sval, sval_len)) {
                    Some(v) => set_one(r, ctx, &key, v, override_ == 0),
                    None => Err(&b"no memory"[..]),
                }
            } else {
                let mut res = Ok(());
                for i in 0..mvals_len {
                    let s = &*mvals.add(i);
                    res = match value(bytes(s.data, s.len)) {
                        Some(v) => set_one(r, ctx, &key, v, !(override_ != 0 && i == 0)),
                        None => Err(&b"no memory"[..]),
                    };
                    if res.is_err() {
                        break;
                    }
                }
                res
            };
            match res {
                Ok(()) => FFI_OK,
                Err(msg) => {
                    set_err(err, errlen, msg);
                    FFI_ERROR
                }
            }
        }
    })
}

/// Fills up to `max` values of header `key`; returns how many exist.
/// `buf` (32 bytes) receives formatted values (Content-Length,
/// Last-Modified).
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
        let ctx = request_in!(REQUEST_PHASES, err, errlen);
        let r = ctx.r;
        // SAFETY: live request.
        let transform = unsafe { crate::conf::loc_conf(r) }.transform_underscores();
        let raw = bytes(key, key_len);
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
        // SAFETY: live request; output arrays sized `max` by the caller,
        // buf 32 bytes.
        unsafe {
            let ho = &(*r).headers_out;
            let one = |data: *const u8, len: usize| {
                *values = FfiStr { data, len };
                1
            };
            match lower {
                b"content-type" if ho.content_type.len > 0 => {
                    return one(ho.content_type.data, ho.content_type.len);
                }
                b"content-length" if ho.content_length.is_null() && ho.content_length_n >= 0 => {
                    let s = ho.content_length_n.to_string();
                    ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len());
                    return one(buf, s.len());
                }
                // The time nginx will send, also for a static file's
                // (which has no element).
                b"last-modified" => {
                    if ho.last_modified_time < 0 {
                        return 0;
                    }
                    let end = ngx_http_time(buf, ho.last_modified_time);
                    return one(buf, end.offset_from(buf) as usize);
                }
                _ => {}
            }
            let mut n = 0usize;
            for_each_header(r, |e| {
                if ngx_bytes(&(*e).key).eq_ignore_ascii_case(lower) {
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
/// caller, or 0 to only count) and returns how many entries there are:
/// Content-Type, Content-Length, Connection and Transfer-Encoding as nginx
/// will send them (always lower case, as upstream), then the live list
/// elements, cut as upstream counts when `max` is exceeded (`*truncated`).
/// `buf` (32 bytes) receives the Content-Length digits.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ngx_lua_ffi_resp_get_headers(
    out: *mut FfiKv,
    count: c_int,
    max: c_int,
    buf: *mut u8,
    truncated: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(REQUEST_PHASES, err, errlen);
        let r = ctx.r;
        let mut n = 0usize;
        // SAFETY: live request; out holds `count` entries, buf 32 bytes.
        unsafe {
            let mut push = |key: *const u8, key_len: usize, v: *const u8, vl: usize| {
                if n < count as usize {
                    *out.add(n) = FfiKv::new(key, key_len, v, vl);
                }
                n += 1;
            };
            let ho = &(*r).headers_out;
            let mut extra = 0usize;
            if ho.content_type.len > 0 {
                extra += 1;
                push(
                    b"content-type".as_ptr(),
                    12,
                    ho.content_type.data,
                    ho.content_type.len,
                );
            }
            if ho.content_length.is_null() && ho.content_length_n >= 0 {
                extra += 1;
                let s = ho.content_length_n.to_string();
                ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len().min(32));
                push(b"content-length".as_ptr(), 14, buf, s.len().min(32));
            }
            let conn: &'static [u8] = if ho.status == NGX_HTTP_SWITCHING_PROTOCOLS as ngx_uint_t {
                b"upgrade"
            } else if (*r).keepalive() != 0 {
                b"keep-alive"
            } else {
                b"close"
            };
            extra += 1;
            push(b"connection".as_ptr(), 10, conn.as_ptr(), conn.len());
            if (*r).chunked() != 0 {
                extra += 1;
                push(b"transfer-encoding".as_ptr(), 17, b"chunked".as_ptr(), 7);
            }
            // Upstream counts every list element, cleared ones too.
            let mut total = 0usize;
            let mut part: *const ngx_list_part_t = &ho.headers.part;
            while !part.is_null() {
                total += (*part).nelts;
                part = (*part).next;
            }
            let mut left = total as isize;
            *truncated = 0;
            if max > 0 && total + extra > max as usize {
                *truncated = 1;
                log::log_error(
                    NGX_LOG_DEBUG,
                    (*(*r).connection).log,
                    format!(
                        "lua exceeding response header limit {} > {max}",
                        total + extra
                    )
                    .as_bytes(),
                );
                left = max as isize - extra as isize;
            }
            // The names as set: elements from other modules may not have
            // a lowcase_key at all, so the Lua side lowers them itself.
            for_each_header(r, |e| {
                if left <= 0 {
                    return;
                }
                push((*e).key.data, (*e).key.len, (*e).value.data, (*e).value.len);
                left -= 1;
            });
        }
        n as c_int
    })
}
