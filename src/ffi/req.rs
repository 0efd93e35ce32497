//! ngx.req.*: method, version, raw header, request headers, URI and args.
use core::ffi::{c_int, c_long};
use core::ptr;

use nginx_sys::*;

use super::header::FfiStr;
use super::text;
use super::*;

/// A key/value pair handed to Lua; `value_len < 0` means a bare key (true).
///
/// The lengths are `int`, as in lua-resty-core's structs: LuaJIT boxes
/// every 64-bit integer it reads from a cdata field into a new cdata
/// object, which in interpreted code is one allocation per field read.
/// Everything listed here comes from header buffers, query strings and
/// in-memory bodies whose total length already fits an `int`.
#[repr(C)]
pub struct FfiKv {
    pub key: *const u8,
    pub key_len: c_int,
    pub value: *const u8,
    pub value_len: c_int,
}

impl FfiKv {
    pub fn new(key: *const u8, key_len: usize, value: *const u8, value_len: usize) -> Self {
        FfiKv {
            key,
            key_len: clamp_len(key_len),
            value,
            value_len: clamp_len(value_len),
        }
    }

    /// A key without `=value`, which Lua sees as `true`.
    pub fn bare(key: *const u8, key_len: usize) -> Self {
        FfiKv {
            key,
            key_len: clamp_len(key_len),
            value: ptr::null(),
            value_len: -1,
        }
    }
}

fn clamp_len(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

const NO_LOG: u32 = REQUEST_PHASES & !Phase::Log.bit();
const NO_BODY_FILTER_LOG: u32 = NO_LOG & !Phase::BodyFilter.bit();

pub(crate) fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if n == 0 || p.is_null() {
        &[]
    } else {
        // SAFETY: callers pass n valid bytes (Lua strings, nginx strings).
        unsafe { core::slice::from_raw_parts(p, n) }
    }
}

/// Copies `s` into the request pool, NUL-terminated (nginx header values
/// are).
pub(crate) unsafe fn pool_str(r: *mut ngx_http_request_t, s: &[u8]) -> Option<ngx_str_t> {
    // SAFETY: live request pool.
    unsafe {
        let p = ngx_pnalloc((*r).pool, s.len() + 1) as *mut u8;
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        *p.add(s.len()) = 0;
        Some(ngx_str_t {
            len: s.len(),
            data: p,
        })
    }
}

macro_rules! req {
    ($allowed:expr, $err:expr, $errlen:expr) => {
        request_in!($allowed, $err, $errlen).r
    };
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_method(
    name: *mut *const u8,
    len: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(REQUEST_PHASES, err, errlen);
        // SAFETY: live request; out pointers from the Lua side.
        unsafe {
            *name = (*r).method_name.data;
            // A method name fits a request line buffer.
            *len = (*r).method_name.len as c_int;
        }
        FFI_OK
    })
}

const METHODS: &[(u32, &[u8])] = &[
    (NGX_HTTP_GET, b"GET"),
    (NGX_HTTP_HEAD, b"HEAD"),
    (NGX_HTTP_POST, b"POST"),
    (NGX_HTTP_PUT, b"PUT"),
    (NGX_HTTP_DELETE, b"DELETE"),
    (NGX_HTTP_MKCOL, b"MKCOL"),
    (NGX_HTTP_COPY, b"COPY"),
    (NGX_HTTP_MOVE, b"MOVE"),
    (NGX_HTTP_OPTIONS, b"OPTIONS"),
    (NGX_HTTP_PROPFIND, b"PROPFIND"),
    (NGX_HTTP_PROPPATCH, b"PROPPATCH"),
    (NGX_HTTP_LOCK, b"LOCK"),
    (NGX_HTTP_UNLOCK, b"UNLOCK"),
    (NGX_HTTP_PATCH, b"PATCH"),
    (NGX_HTTP_TRACE, b"TRACE"),
];

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_set_method(
    method: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(NO_BODY_FILTER_LOG, err, errlen);
        let Some(&(id, name)) = METHODS.iter().find(|(id, _)| *id as c_int == method) else {
            // SAFETY: the caller's error buffer.
            unsafe {
                set_err(
                    err,
                    errlen,
                    format!("unsupported HTTP method: {method}").as_bytes(),
                )
            };
            return FFI_ERROR;
        };
        // SAFETY: live request; the names are static.
        unsafe {
            (*r).method = id as ngx_uint_t;
            (*r).method_name = ngx_str_t {
                len: name.len(),
                data: name.as_ptr() as *mut u8,
            };
        }
        FFI_OK
    })
}

/// `r->http_version` (9, 1000, 1001, 2000, 3000).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_http_version(err: *mut u8, errlen: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(NO_BODY_FILTER_LOG | Phase::Log.bit(), err, errlen);
        // SAFETY: live request.
        unsafe { (*r).http_version as c_int }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_start_time(
    sec: *mut c_long,
    msec: *mut c_long,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(REQUEST_PHASES, err, errlen);
        // SAFETY: live request; out pointers from the Lua side.
        unsafe {
            *sec = (*r).start_sec as c_long;
            *msec = (*r).start_msec as c_long;
        }
        FFI_OK
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_is_internal(err: *mut u8, errlen: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(REQUEST_PHASES, err, errlen);
        // SAFETY: live request.
        unsafe { (*r).internal() as c_int }
    })
}

// ---- raw header -----------------------------------------------------------

/// Whether `p` lies in one of the buffers the client's header was read into
/// (so the element came from the client, not from `ngx.req.set_header`).
unsafe fn in_client_buffers(r: *mut ngx_http_request_t, p: *const u8) -> bool {
    // SAFETY: main request's header buffers live as long as the request.
    unsafe {
        let inside = |b: *mut ngx_buf_t| {
            !b.is_null() && p >= (*b).start as *const u8 && p < (*b).end as *const u8
        };
        if inside((*r).header_in) || inside((*(*r).connection).buffer) {
            return true;
        }
        let hc = (*r).http_connection;
        if hc.is_null() {
            return false;
        }
        let mut cl = (*hc).busy;
        while !cl.is_null() {
            if inside((*cl).buf) {
                return true;
            }
            cl = (*cl).next;
        }
        false
    }
}

/// The client's request header as it was sent. When it sits in one buffer
/// (the usual case) it is read from there; nginx wrote a NUL after each
/// header name and value while parsing, which become `:` and the line end
/// again (a CR before an LF, otherwise an LF). A header that overflowed
/// into nginx's large header buffers is rebuilt from the parsed elements
/// instead (headers removed by `ngx.req.clear_header` are then missing).
unsafe fn raw_header(
    r: *mut ngx_http_request_t,
    no_request_line: bool,
    mut out: impl FnMut(&[u8]),
) {
    // SAFETY: the main request's parsed header points into its buffers.
    unsafe {
        let mr = (*r).main;
        let line = &(*mr).request_line;
        let hin = (*mr).header_in;
        let crlf = line.len > 0 && *line.data.add(line.len) == b'\r';
        if !hin.is_null() && line.data >= (*hin).start && line.data < (*hin).pos {
            let all = bytes(line.data, (*hin).pos.offset_from(line.data) as usize);
            let mut i = if no_request_line {
                all.iter()
                    .position(|&c| c == b'\n')
                    .map_or(all.len(), |p| p + 1)
            } else {
                0
            };
            let (mut from, mut name_done, mut line_len) = (i, false, 0usize);
            while i < all.len() {
                let c = all[i];
                let mut line_end = c == b'\n';
                if c == 0 {
                    out(&all[from..i]);
                    from = i + 1;
                    if !name_done {
                        name_done = true;
                        out(b":");
                    } else if crlf && all.get(i + 1) == Some(&b'\n') {
                        out(b"\r");
                    } else {
                        out(b"\n");
                        line_end = true;
                    }
                }
                if line_end {
                    let blank = line_len == 0 || (line_len == 1 && all[i - 1] == b'\r');
                    if blank {
                        out(&all[from..(i + 1).max(from)]);
                        return;
                    }
                    name_done = false;
                    line_len = 0;
                } else {
                    line_len += 1;
                }
                i += 1;
            }
            out(&all[from..]);
            return;
        }
        let term: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        if !no_request_line {
            out(bytes(line.data, line.len));
            out(term);
        }
        let mut part: *mut ngx_list_part_t = &mut (*mr).headers_in.headers.part;
        while !part.is_null() {
            let elts = (*part).elts as *const ngx_table_elt_t;
            for i in 0..(*part).nelts {
                let h = &*elts.add(i);
                if h.key.data.is_null() || !in_client_buffers(mr, h.key.data) {
                    continue;
                }
                let vend = h.value.data.add(h.value.len);
                let raw = bytes(h.key.data, vend.offset_from(h.key.data).max(0) as usize);
                let k = h.key.len;
                if raw.len() > k && raw[k] == 0 {
                    out(&raw[..k]);
                    out(b":");
                    out(&raw[k + 1..]);
                } else {
                    out(raw);
                }
                let next = *vend.add(1);
                out(if *vend == b'\r' || (*vend == 0 && next == b'\n') {
                    b"\r\n"
                } else {
                    b"\n"
                });
            }
            part = (*part).next;
        }
        out(term);
    }
}

const RAW_HEADER_PHASES: u32 = NO_BODY_FILTER_LOG | Phase::Log.bit();

/// Length of `ngx.req.raw_header()`'s result.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_raw_header_len(
    no_request_line: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(RAW_HEADER_PHASES, err, errlen);
        // SAFETY: live request.
        unsafe {
            if !(*(*r).main).stream.is_null() {
                set_err(err, errlen, b"http2 requests not supported yet");
                return FFI_ERROR;
            }
            let mut n = 0usize;
            raw_header(r, no_request_line != 0, |s| n += s.len());
            n as c_int
        }
    })
}

/// Fills `buf` (sized by `ngx_lua_ffi_req_raw_header_len`).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_raw_header(
    no_request_line: c_int,
    buf: *mut u8,
    size: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(RAW_HEADER_PHASES, err, errlen);
        let mut n = 0usize;
        // SAFETY: live request; buf holds size bytes.
        unsafe {
            raw_header(r, no_request_line != 0, |s| {
                let m = s.len().min(size - n);
                ptr::copy_nonoverlapping(s.as_ptr(), buf.add(n), m);
                n += m;
            });
        }
        n as c_int
    })
}

// ---- request headers ------------------------------------------------------

/// Visits every element of a header list.
pub(crate) unsafe fn for_each_elt(list: *mut ngx_list_t, mut f: impl FnMut(*mut ngx_table_elt_t)) {
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

/// How many request headers `ngx.req.get_headers(max)` returns; sets
/// `*truncated` when there are more than `max` (0: no limit).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_headers_count(
    max: c_int,
    truncated: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(REQUEST_PHASES, err, errlen);
        let mut n = 0usize;
        // SAFETY: live request.
        unsafe {
            for_each_elt(&mut (*r).headers_in.headers, |_| n += 1);
            *truncated = 0;
            if max > 0 && n > max as usize {
                *truncated = 1;
                crate::nginx::log::log_error(
                    NGX_LOG_DEBUG,
                    (*(*r).connection).log,
                    format!("lua exceeding request header limit {n} > {max}").as_bytes(),
                );
                n = max as usize;
            }
        }
        n as c_int
    })
}

/// Fills `out` with up to `count` request headers (names lower-cased
/// unless `raw`); returns how many.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_headers(
    out: *mut FfiKv,
    count: c_int,
    raw: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(REQUEST_PHASES, err, errlen);
        let mut n = 0usize;
        // SAFETY: live request; out holds count entries.
        unsafe {
            for_each_elt(&mut (*r).headers_in.headers, |h| {
                if n >= count as usize {
                    return;
                }
                let key = if raw != 0 || (*h).lowcase_key.is_null() {
                    (*h).key.data
                } else {
                    (*h).lowcase_key
                };
                *out.add(n) = FfiKv::new(key, (*h).key.len, (*h).value.data, (*h).value.len);
                n += 1;
            });
        }
        n as c_int
    })
}

/// Removes the elements of `list` whose name is `lower` (case-insensitive),
/// keeping the list's parts consistent.
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
                hi.content_length_n = value.and_then(super::header::parse_off).unwrap_or(-1);
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

/// `ngx.req.set_header(name, values)` / `clear_header(name)` (nvals 0) /
/// `ngx.req`'s `add_header` (`replace` 0). Names and values are escaped
/// like upstream (no header injection); `FFI_DECLINED` (nothing done) for
/// an HTTP/0.9 request.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_set_header(
    key: *const u8,
    key_len: usize,
    vals: *const FfiStr,
    nvals: usize,
    replace: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // Any request phase, log_by_lua included, as upstream.
        let r = req!(REQUEST_PHASES, err, errlen);
        // SAFETY: live request.
        if unsafe { (*r).http_version } < NGX_HTTP_VERSION_10 as ngx_uint_t {
            // An HTTP/0.9 request has no headers to change.
            return FFI_DECLINED;
        }
        // SAFETY: the Lua side passes nvals strings.
        let values = (0..nvals).map(|i| unsafe {
            let v = &*vals.add(i);
            bytes(v.data, v.len)
        });
        // SAFETY: live request.
        match unsafe { set_input_header(r, bytes(key, key_len), values, replace != 0) } {
            Ok(()) => FFI_OK,
            Err(msg) => {
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, msg) };
                FFI_ERROR
            }
        }
    })
}

/// Gives subrequest `sr` a header list of its own: nginx's subrequest is a
/// shallow copy of the parent's `headers_in`, so a header set in the
/// subrequest would land in the parent's list. The parent's elements are
/// copied (without `Content-Length` when `drop_length`), then nginx's
/// parsed fields are pointed at the copies.
///
/// # Safety
/// `sr` is a subrequest of the live request `pr` that has not run yet.
pub(crate) unsafe fn copy_headers_in(
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
pub(crate) unsafe fn push_content_length(r: *mut ngx_http_request_t, n: usize) -> bool {
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
pub(crate) unsafe fn set_input_header<'a>(
    r: *mut ngx_http_request_t,
    key: &[u8],
    values: impl ExactSizeIterator<Item = &'a [u8]>,
    replace: bool,
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
            .any(|v| !v.is_empty() && super::header::parse_off(v).is_none())
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
            set_server(r, server.as_deref())?;
        }
    }
    Ok(())
}

/// `headers_in.server` after Host changed, and a fresh `$host` (nginx
/// caches indexed variables per request).
///
/// # Safety
/// `r` is a live request.
unsafe fn set_server(r: *mut ngx_http_request_t, host: Option<&[u8]>) -> Result<(), &'static [u8]> {
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
        if let Some(i) = crate::conf::main_conf(r).host_var_index {
            let v = (*r).variables.add(i);
            (*v).set_valid(0);
            (*v).set_not_found(0);
        }
    }
    Ok(())
}

// ---- URI and args ---------------------------------------------------------

/// Length of the query string (the buffer `get_uri_args` needs).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_querystring_len(
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(REQUEST_PHASES, err, errlen);
        // SAFETY: live request.
        unsafe { (*r).args.len as c_int }
    })
}

/// Parses `data` (copied into `buf`) into `out`; returns the count and sets
/// `*truncated`.
pub(crate) fn parse_into(
    data: &[u8],
    buf: *mut u8,
    out: *mut FfiKv,
    max: c_int,
    truncated: *mut c_int,
) -> c_int {
    if !data.is_empty() {
        // SAFETY: the Lua side sized buf from the same length.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len()) };
    }
    parse_buf(buf, data.len(), out, max, truncated)
}

/// Parses the `len` bytes in `buf` in place into `out`.
pub(crate) fn parse_buf(
    buf: *mut u8,
    len: usize,
    out: *mut FfiKv,
    max: c_int,
    truncated: *mut c_int,
) -> c_int {
    // SAFETY: buf holds len bytes and out one entry per `&`-separated
    // piece: the Lua side sizes both from the same length.
    unsafe {
        let b = if len == 0 {
            &mut [][..]
        } else {
            core::slice::from_raw_parts_mut(buf, len)
        };
        let base = buf as *const u8;
        let mut n = 0usize;
        let t = text::parse_args(b, max.max(0) as usize, |((k, kl), v)| {
            *out.add(n) = match v {
                Some((a, l)) => FfiKv::new(base.add(k), kl, base.add(a), l),
                None => FfiKv::bare(base.add(k), kl),
            };
            n += 1;
        });
        *truncated = t as c_int;
        n as c_int
    }
}

/// `ngx.req.get_uri_args(max)`: `buf` holds the query string's length,
/// `out` one entry per `&`-separated piece (or `max`).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_get_uri_args(
    buf: *mut u8,
    out: *mut FfiKv,
    max: c_int,
    truncated: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(REQUEST_PHASES, err, errlen);
        // SAFETY: live request.
        let args = unsafe { bytes((*r).args.data, (*r).args.len) };
        parse_into(args, buf, out, max, truncated)
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_set_uri_args(
    args: *const u8,
    len: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let r = req!(NO_LOG, err, errlen);
        // SAFETY: live request; the copy lives in its pool.
        unsafe {
            // Controls and spaces would end or split the request line of
            // a proxied request: escaped as upstream does.
            let Some(s) = pool_str(r, &text::escape_args(bytes(args, len))) else {
                set_err(err, errlen, b"no memory");
                return FFI_ERROR;
            };
            (*r).args = s;
            (*r).set_valid_unparsed_uri(0);
        }
        FFI_OK
    })
}

/// `ngx.req.set_uri(uri, jump, binary)`. With `jump`, `FFI_DONE`: the Lua
/// side yields and the rewrite phase ends so nginx looks up the location
/// for the new URI.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_req_set_uri(
    uri: *const u8,
    len: usize,
    jump: c_int,
    binary: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(NO_LOG, err, errlen);
        let r = ctx.r;
        let u = bytes(uri, len);
        if u.is_empty() {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, b"attempt to use zero-length uri") };
            return FFI_ERROR;
        }
        if binary == 0 {
            if let Some(b) = text::unsafe_uri_byte(u) {
                let msg = format!(
                    "unsafe byte \"0x{b:02x}\" in uri \"{}\" (maybe you want to set the 'binary' argument?)",
                    text::escape_log(u)
                );
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, msg.as_bytes()) };
                return FFI_ERROR;
            }
        }
        let phase = current().phase;
        if jump != 0 && !matches!(phase, Phase::Rewrite | Phase::ServerRewrite) {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, disabled(phase).as_bytes()) };
            return FFI_ERROR;
        }
        // SAFETY: live request; the copy lives in its pool.
        unsafe {
            let Some(s) = pool_str(r, u) else {
                set_err(err, errlen, b"no memory");
                return FFI_ERROR;
            };
            (*r).uri = s;
            (*r).set_internal(1);
            (*r).set_valid_unparsed_uri(0);
            ngx_http_set_exten(r);
            if jump != 0 {
                if ctx.pending_captures > 0 {
                    set_err(err, errlen, PENDING_SUBREQUESTS);
                    return FFI_ERROR;
                }
                (*r).set_uri_changed(1);
                // A location rewrite handler runs again after nginx found
                // the new location; a server rewrite one is not re-entered.
                ctx.uri_jump = phase == Phase::Rewrite;
                ctx.exit_code = Some(0);
                return FFI_DONE;
            }
            (*r).set_valid_location(0);
            (*r).set_uri_changed(0);
        }
        FFI_OK
    })
}
