//! The request's header list (`r->headers_in`): visiting, adding,
//! replacing and removing elements while keeping nginx's parsed fields
//! (`host`, `content_length_n`, `user_agent`, ...) in step, and giving a
//! subrequest a list of its own.
use core::ptr;

use nginx_sys::*;

use super::str::{bytes, pool_str};
use crate::codec::text;

/// Visits every element of a header list.
pub unsafe fn for_each_elt(list: *mut ngx_list_t, mut f: impl FnMut(*mut ngx_table_elt_t)) {
    // SAFETY: nginx's list of parts of ngx_table_elt_t.
    unsafe {
        let mut part: *mut ngx_list_part_t = &mut (*list).part;
        while !part.is_null() {
            let elts = (*part).elts as *mut ngx_table_elt_t;
            for i in 0..(*part).nelts {
                f(elts.add(i));
            }
            part = (*part).next;
        }
    }
}

unsafe fn remove_header(list: *mut ngx_list_t, lower: &[u8]) -> bool {
    let mut removed = false;
    // SAFETY: nginx's list of ngx_table_elt_t; shifting within a part keeps
    // the part's nelts consistent; list->last still points to the last part.
    unsafe {
        let mut part: *mut ngx_list_part_t = &mut (*list).part;
        while !part.is_null() {
            let elts = (*part).elts as *mut ngx_table_elt_t;
            let mut i = 0;
            while i < (*part).nelts {
                let h = &*elts.add(i);
                if bytes(h.key.data, h.key.len).eq_ignore_ascii_case(lower) {
                    ptr::copy(elts.add(i + 1), elts.add(i), (*part).nelts - i - 1);
                    (*part).nelts -= 1;
                    removed = true;
                } else {
                    i += 1;
                }
            }
            part = (*part).next;
        }
    }
    removed
}

/// Multi-valued `headers_in` fields that are arrays before nginx 1.23.
#[cfg(not(ngx_lua_nginx_ge_1_25))]
fn is_array_field(lower: &[u8]) -> bool {
    lower == b"cookie" || lower == b"x-forwarded-for"
}

/// Points nginx's parsed `headers_in` fields (found through nginx's own
/// `ngx_http_headers_in` table) at the current elements: the field of
/// `only`, or all of them after elements were removed (removal shifts the
/// elements that follow, so every field may be stale).
unsafe fn sync_fields(r: *mut ngx_http_request_t, only: Option<&[u8]>) {
    // SAFETY: ngx_http_headers_in ends with an empty name; offsets index
    // ngx_http_headers_in_t; fields are `ngx_table_elt_t *` (or, for the
    // multi headers of nginx < 1.23, `ngx_array_t` of such pointers).
    unsafe {
        let table = ptr::addr_of!(ngx_http_headers_in) as *const ngx_http_header_t;
        let mut i = 0;
        loop {
            let e = &*table.add(i);
            i += 1;
            if e.name.len == 0 {
                return;
            }
            let name = bytes(e.name.data, e.name.len);
            if only.is_some_and(|o| !name.eq_ignore_ascii_case(o)) {
                continue;
            }
            sync_field(r, name, e.offset);
        }
    }
}

unsafe fn sync_field(r: *mut ngx_http_request_t, name: &[u8], offset: ngx_uint_t) {
    // SAFETY: see sync_fields.
    unsafe {
        let base = ptr::addr_of_mut!((*r).headers_in) as *mut u8;
        let mut first: *mut ngx_table_elt_t = ptr::null_mut();
        #[allow(unused_mut)]
        let mut prev: *mut ngx_table_elt_t = ptr::null_mut();
        #[cfg(not(ngx_lua_nginx_ge_1_25))]
        let arr = if is_array_field(&name.to_ascii_lowercase()) {
            let arr = base.add(offset) as *mut ngx_array_t;
            if (*arr).elts.is_null() {
                // ngx_array_init is a static inline function in C.
                let size = core::mem::size_of::<*mut ngx_table_elt_t>();
                (*arr).elts = ngx_palloc((*r).pool, 2 * size);
                if (*arr).elts.is_null() {
                    return;
                }
                (*arr).size = size;
                (*arr).nalloc = 2;
                (*arr).pool = (*r).pool;
            }
            (*arr).nelts = 0;
            Some(arr)
        } else {
            None
        };
        for_each_elt(&mut (*r).headers_in.headers, |h| {
            if !bytes((*h).key.data, (*h).key.len).eq_ignore_ascii_case(name) {
                return;
            }
            #[cfg(not(ngx_lua_nginx_ge_1_25))]
            if let Some(arr) = arr {
                let slot = ngx_array_push(arr) as *mut *mut ngx_table_elt_t;
                if !slot.is_null() {
                    *slot = h;
                }
            }
            #[cfg(ngx_lua_nginx_ge_1_25)]
            {
                (*h).next = ptr::null_mut();
                if !prev.is_null() {
                    (*prev).next = h;
                }
                prev = h;
            }
            if first.is_null() {
                first = h;
            }
        });
        let _ = prev;
        #[cfg(not(ngx_lua_nginx_ge_1_25))]
        if arr.is_some() {
            return;
        }
        *(base.add(offset) as *mut *mut ngx_table_elt_t) = first;
    }
}

/// Effects of a request header on nginx's derived request fields.
unsafe fn header_effects(r: *mut ngx_http_request_t, lower: &[u8], value: Option<&[u8]>) {
    // SAFETY: live request; values live in its pool.
    unsafe {
        let hi = &mut (*r).headers_in;
        match lower {
            b"connection" => {
                // As nginx parses it: the tokens anywhere in the value.
                let v = value.unwrap_or(b"").to_ascii_lowercase();
                let has = |n: &[u8]| v.windows(n.len()).any(|w| w == n);
                let t = if has(b"close") {
                    hi.keep_alive_n = -1;
                    NGX_HTTP_CONNECTION_CLOSE
                } else if has(b"keep-alive") {
                    NGX_HTTP_CONNECTION_KEEP_ALIVE
                } else {
                    0
                };
                hi.set_connection_type(t as _);
            }
            b"content-length" => {
                hi.content_length_n = value.and_then(text::parse_off).unwrap_or(-1);
            }
            b"user-agent" => {
                let ua = value.unwrap_or(b"");
                let has = |n: &[u8]| ua.windows(n.len()).any(|w| w == n);
                let msie = has(b"MSIE ");
                hi.set_msie(msie as u32);
                hi.set_msie6(
                    (msie && ua.windows(6).any(|w| w == b"MSIE 5" || w == b"MSIE 6")) as u32,
                );
                hi.set_opera(has(b"Opera") as u32);
                hi.set_gecko(has(b"Gecko/") as u32);
                hi.set_chrome(has(b"Chrome/") as u32);
                hi.set_safari((has(b"Safari/") && has(b"Mac OS X")) as u32);
                hi.set_konqueror(has(b"Konqueror") as u32);
            }
            _ => {}
        }
    }
}

/// Gives subrequest `sr` a header list of its own: nginx's subrequest is a
/// shallow copy of the parent's `headers_in`, so a header set in the
/// subrequest would land in the parent's list. The parent's elements are
/// copied (without `Content-Length` when `drop_length`), then nginx's
/// parsed fields are pointed at the copies.
///
/// # Safety
/// `sr` is a subrequest of the live request `pr` that has not run yet.
pub unsafe fn copy_headers_in(
    sr: *mut ngx_http_request_t,
    pr: *mut ngx_http_request_t,
    drop_length: bool,
) -> bool {
    // SAFETY: both requests live in the same pool; the copied elements'
    // strings live there too (or in the connection's header buffers).
    unsafe {
        let list: *mut ngx_list_t = &mut (*sr).headers_in.headers;
        if ngx_list_init(
            list,
            (*sr).pool,
            20,
            core::mem::size_of::<ngx_table_elt_t>(),
        ) != NGX_OK as ngx_int_t
        {
            return false;
        }
        // The array fields of nginx < 1.23 must not share the parent's
        // array memory either: sync_fields allocates new ones.
        #[cfg(not(ngx_lua_nginx_ge_1_25))]
        {
            (*sr).headers_in.cookies = core::mem::zeroed();
            (*sr).headers_in.x_forwarded_for = core::mem::zeroed();
        }
        let mut ok = true;
        for_each_elt(&mut (*pr).headers_in.headers, |h| {
            if !ok
                || (drop_length
                    && bytes((*h).key.data, (*h).key.len).eq_ignore_ascii_case(b"content-length"))
            {
                return;
            }
            let c = ngx_list_push(list) as *mut ngx_table_elt_t;
            if c.is_null() {
                ok = false;
                return;
            }
            ptr::copy_nonoverlapping(h, c, 1);
        });
        if ok {
            sync_fields(sr, None);
        }
        ok
    }
}

/// Adds a `Content-Length: n` element to `r`'s request headers.
///
/// # Safety
/// `r` is a live request.
pub unsafe fn push_content_length(r: *mut ngx_http_request_t, n: usize) -> bool {
    // SAFETY: live request; the element and its strings in its pool.
    unsafe {
        let h = ngx_list_push(&mut (*r).headers_in.headers) as *mut ngx_table_elt_t;
        let Some(v) = pool_str(r, n.to_string().as_bytes()) else {
            return false;
        };
        if h.is_null() {
            return false;
        }
        ptr::write_bytes(h, 0, 1);
        (*h).key = ngx_str_t {
            len: 14,
            data: c"Content-Length".as_ptr() as *mut u8,
        };
        (*h).lowcase_key = c"content-length".as_ptr() as *mut u8;
        (*h).hash = ngx_hash_key((*h).lowcase_key, 14);
        (*h).value = v;
        sync_fields(r, Some(b"content-length"));
        (*r).headers_in.content_length_n = n as off_t;
        true
    }
}

/// Sets (appends, with `replace` false) or clears (no values) a request
/// header, escaping its name and values, and keeps nginx's parsed
/// `headers_in` fields in step.
///
/// # Safety
/// `r` is a live request.
pub unsafe fn set_input_header<'a>(
    r: *mut ngx_http_request_t,
    key: &[u8],
    values: impl ExactSizeIterator<Item = &'a [u8]>,
    replace: bool,
    host_var: Option<usize>,
) -> Result<(), &'static [u8]> {
    // SAFETY: live request.
    unsafe {
        if (*r).headers_in.headers.last.is_null() || (*r).headers_out.status == 400 {
            // A 400 Bad Request (an error_page target): nginx never set
            // up the header list; upstream ignores the call too.
            return Ok(());
        }
    }
    let name = text::escape_header(key, true);
    let lower = name.to_ascii_lowercase();
    let values: Vec<&[u8]> = values.collect();
    let nvals = values.len();
    // nginx's idea of the host ($host, server lookup) comes from the
    // first value, which must be a valid host (upstream refuses others).
    let server = match (&lower[..], values.first()) {
        (b"host", Some(v)) if !v.is_empty() => {
            let escaped = text::escape_header(v, false);
            match text::validate_host(&escaped) {
                Some(h) => Some(h),
                None => return Err(b"failed to set header"),
            }
        }
        _ => None,
    };
    // nginx reads the body by content_length_n: a value it cannot parse
    // (upstream refuses it) would leave the body to be parsed as the next
    // request on the connection.
    if lower == b"content-length"
        && values
            .iter()
            .any(|v| !v.is_empty() && text::parse_off(v).is_none())
    {
        return Err(b"failed to set header");
    }
    // SAFETY: live request; new elements and strings in its pool.
    unsafe {
        let list: *mut ngx_list_t = &mut (*r).headers_in.headers;
        let removed = (replace || nvals == 0) && remove_header(list, &lower);
        let mut first: Option<ngx_str_t> = None;
        for v in values {
            let value = text::escape_header(v, false);
            let h = ngx_list_push(list) as *mut ngx_table_elt_t;
            if h.is_null() {
                return Err(b"no memory");
            }
            ptr::write_bytes(h, 0, 1);
            let (Some(k), Some(lk), Some(val)) =
                (pool_str(r, &name), pool_str(r, &lower), pool_str(r, &value))
            else {
                return Err(b"no memory");
            };
            (*h).hash = ngx_hash_key(lk.data, lk.len);
            (*h).key = k;
            (*h).lowcase_key = lk.data;
            (*h).value = val;
            first.get_or_insert(val);
        }
        sync_fields(r, if removed { None } else { Some(&lower) });
        // The derived fields follow the first remaining value.
        let mut cur: Option<ngx_str_t> = first;
        if cur.is_none() && !replace {
            for_each_elt(list, |h| {
                if cur.is_none() && bytes((*h).key.data, (*h).key.len).eq_ignore_ascii_case(&lower)
                {
                    cur = Some((*h).value);
                }
            });
        }
        header_effects(r, &lower, cur.as_ref().map(|s| bytes(s.data, s.len)));
        if lower == b"host" {
            set_server(r, server.as_deref(), host_var)?;
        }
    }
    Ok(())
}

/// `headers_in.server` after Host changed, and a fresh `$host` (nginx
/// caches indexed variables per request).
///
/// # Safety
/// `r` is a live request.
unsafe fn set_server(
    r: *mut ngx_http_request_t,
    host: Option<&[u8]>,
    host_var: Option<usize>,
) -> Result<(), &'static [u8]> {
    // SAFETY: live request; the copy lives in its pool; the index was
    // taken at configuration time, so r->variables has that slot.
    unsafe {
        (*r).headers_in.server = match host {
            Some(h) => pool_str(r, h).ok_or(&b"no memory"[..])?,
            None => ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            },
        };
        if let Some(i) = host_var {
            let v = (*r).variables.add(i);
            (*v).set_valid(0);
            (*v).set_not_found(0);
        }
    }
    Ok(())
}
