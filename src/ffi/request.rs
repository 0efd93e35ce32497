//! ngx.req.*: method, version, raw header, request headers, URI and args.
use core::ffi::{c_int, c_long};
use core::ptr;

use nginx_sys::*;

mod body;
mod body_set;

use super::*;
use crate::codec::text;
use crate::nginx::headers_in::{for_each_elt, set_input_header};
use crate::nginx::str::{bytes, pool_str};

const NO_LOG: u32 = REQUEST_PHASES & !Phase::Log.bit();
const NO_BODY_FILTER_LOG: u32 = NO_LOG & !Phase::BodyFilter.bit();

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
        // SAFETY: the running request.
        let host_var = unsafe { crate::conf::main_conf(r).host_var_index };
        match unsafe { set_input_header(r, bytes(key, key_len), values, replace != 0, host_var) } {
            Ok(()) => FFI_OK,
            Err(msg) => {
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, msg) };
                FFI_ERROR
            }
        }
    })
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
                if ctx.phases.pending_captures > 0 {
                    set_err(err, errlen, PENDING_SUBREQUESTS);
                    return FFI_ERROR;
                }
                (*r).set_uri_changed(1);
                // A location rewrite handler runs again after nginx found
                // the new location; a server rewrite one is not re-entered.
                ctx.phases.uri_jump = phase == Phase::Rewrite;
                ctx.exit_code = Some(0);
                return FFI_DONE;
            }
            (*r).set_valid_location(0);
            (*r).set_uri_changed(0);
        }
        FFI_OK
    })
}
