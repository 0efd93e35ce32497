//! ngx.req.*: method, version, raw header, request headers, URI and args.
use core::ffi::{c_int, c_long};

use nginx_sys::{ngx_uint_t, NGX_HTTP_VERSION_10, NGX_LOG_DEBUG};

mod body;
mod body_set;

use super::*;
use crate::codec::text;
use crate::conf::MainConf;

const NO_LOG: u32 = REQUEST_PHASES & !Phase::Log.bit();
const NO_BODY_FILTER_LOG: u32 = NO_LOG & !Phase::BodyFilter.bit();

export! {
    fn ngx_lua_ffi_req_get_method(
        name: *mut *const u8,
        len: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(REQUEST_PHASES, err).req();
        let m = r.method_name();
        out!(name, m.as_ptr());
        // A method name fits a request line buffer.
        out!(len, m.len() as c_int);
        FFI_OK
    }
}

const METHODS: &[(u32, &[u8])] = &[
    (nginx_sys::NGX_HTTP_GET, b"GET"),
    (nginx_sys::NGX_HTTP_HEAD, b"HEAD"),
    (nginx_sys::NGX_HTTP_POST, b"POST"),
    (nginx_sys::NGX_HTTP_PUT, b"PUT"),
    (nginx_sys::NGX_HTTP_DELETE, b"DELETE"),
    (nginx_sys::NGX_HTTP_MKCOL, b"MKCOL"),
    (nginx_sys::NGX_HTTP_COPY, b"COPY"),
    (nginx_sys::NGX_HTTP_MOVE, b"MOVE"),
    (nginx_sys::NGX_HTTP_OPTIONS, b"OPTIONS"),
    (nginx_sys::NGX_HTTP_PROPFIND, b"PROPFIND"),
    (nginx_sys::NGX_HTTP_PROPPATCH, b"PROPPATCH"),
    (nginx_sys::NGX_HTTP_LOCK, b"LOCK"),
    (nginx_sys::NGX_HTTP_UNLOCK, b"UNLOCK"),
    (nginx_sys::NGX_HTTP_PATCH, b"PATCH"),
    (nginx_sys::NGX_HTTP_TRACE, b"TRACE"),
];

export! {
    fn ngx_lua_ffi_req_set_method(method: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(NO_BODY_FILTER_LOG, err).req();
        let Some(&(id, name)) = METHODS.iter().find(|(id, _)| *id as c_int == method) else {
            err.set_fmt(format_args!("unsupported HTTP method: {method}"));
            return FFI_ERROR;
        };
        r.set_method(id as ngx_uint_t, name);
        FFI_OK
    }
}

export! {
    /// `r->http_version` (9, 1000, 1001, 2000, 3000).
    fn ngx_lua_ffi_req_http_version(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        running!(NO_BODY_FILTER_LOG | Phase::Log.bit(), err).req().http_version() as c_int
    }
}

export! {
    fn ngx_lua_ffi_req_start_time(
        sec: *mut c_long,
        msec: *mut c_long,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let (s, ms) = running!(REQUEST_PHASES, err).req().start_time();
        out!(sec, s as c_long);
        out!(msec, ms as c_long);
        FFI_OK
    }
}

export! {
    fn ngx_lua_ffi_req_is_internal(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        running!(REQUEST_PHASES, err).req().is_internal() as c_int
    }
}

// ---- raw header -----------------------------------------------------------

const RAW_HEADER_PHASES: u32 = NO_BODY_FILTER_LOG | Phase::Log.bit();

export! {
    /// Length of `ngx.req.raw_header()`'s result.
    fn ngx_lua_ffi_req_raw_header_len(
        no_request_line: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(RAW_HEADER_PHASES, err).req();
        if r.main().is_http2() {
            err.set(b"http2 requests not supported yet");
            return FFI_ERROR;
        }
        let mut n = 0usize;
        r.raw_header(no_request_line != 0, |s| n += s.len());
        n as c_int
    }
}

export! {
    /// Fills `buf` (sized by `ngx_lua_ffi_req_raw_header_len`).
    fn ngx_lua_ffi_req_raw_header(
        no_request_line: c_int,
        buf: *mut u8,
        size: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(RAW_HEADER_PHASES, err).req();
        let buf = lua_buf!(buf, size);
        let mut n = 0usize;
        r.raw_header(no_request_line != 0, |s| {
            let m = s.len().min(buf.len() - n);
            buf[n..n + m].copy_from_slice(&s[..m]);
            n += m;
        });
        n as c_int
    }
}

// ---- request headers ------------------------------------------------------

export! {
    /// How many request headers `ngx.req.get_headers(max)` returns; sets
    /// `*truncated` when there are more than `max` (0: no limit).
    fn ngx_lua_ffi_req_get_headers_count(
        max: c_int,
        truncated: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(REQUEST_PHASES, err).req();
        let mut n = r.headers_in().count();
        let over = max > 0 && n > max as usize;
        out!(truncated, over as c_int);
        if over {
            if r.logs(NGX_LOG_DEBUG) {
                r.log_error(
                    NGX_LOG_DEBUG,
                    format!("lua exceeding request header limit {n} > {max}").as_bytes(),
                );
            }
            n = max as usize;
        }
        n as c_int
    }
}

export! {
    /// Fills `out` with up to `count` request headers (names lower-cased
    /// unless `raw`); returns how many.
    fn ngx_lua_ffi_req_get_headers(
        out: *mut FfiKv,
        count: c_int,
        raw: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(REQUEST_PHASES, err).req();
        let out = lua_buf!(out, count.max(0) as usize);
        let mut n = 0;
        for (slot, h) in out.iter_mut().zip(r.headers_in()) {
            let key = if raw != 0 { h.key() } else { h.lowcase_key() };
            let value = h.value();
            *slot = FfiKv::new(key.as_ptr(), key.len(), value.as_ptr(), value.len());
            n += 1;
        }
        n
    }
}

export! {
    /// `ngx.req.set_header(name, values)` / `clear_header(name)` (nvals 0)
    /// / `ngx.req`'s `add_header` (`replace` 0). Names and values are
    /// escaped like upstream (no header injection); `FFI_DECLINED`
    /// (nothing done) for an HTTP/0.9 request.
    fn ngx_lua_ffi_req_set_header(
        key: *const u8,
        key_len: usize,
        vals: *const FfiStr,
        nvals: usize,
        replace: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        // Any request phase, log_by_lua included, as upstream.
        let r = running!(raise_in_timer: REQUEST_PHASES, err).req();
        if r.http_version() < NGX_HTTP_VERSION_10 as ngx_uint_t {
            // An HTTP/0.9 request has no headers to change.
            return FFI_DECLINED;
        }
        let values = lua_slice!(vals, nvals).iter().map(|v| lua_bytes!(v.data, v.len));
        let host_var = MainConf::of(r).host_var_index;
        match r.set_header_in(lua_bytes!(key, key_len), values, replace != 0, host_var) {
            Ok(()) => FFI_OK,
            Err(msg) => {
                err.set(msg);
                FFI_ERROR
            }
        }
    }
}

// ---- URI and args ---------------------------------------------------------

export! {
    /// Length of the query string (the buffer `get_uri_args` needs).
    fn ngx_lua_ffi_req_get_querystring_len(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        running!(REQUEST_PHASES, err).req().args().len() as c_int
    }
}

/// Parses the query-string-like bytes in `buf` (lua-lib's buffer) in
/// place into `out`, whose pairs point into `buf`: the number of pairs,
/// and whether `max` cut them short.
pub(crate) fn parse_args_into(buf: &mut [u8], out: &mut [FfiKv], max: c_int) -> (c_int, bool) {
    let base = buf.as_mut_ptr() as *const u8;
    let mut n = 0usize;
    let truncated = text::parse_args(buf, max.max(0) as usize, |((k, kl), v)| {
        out[n] = match v {
            Some((a, l)) => FfiKv::new(base.wrapping_add(k), kl, base.wrapping_add(a), l),
            None => FfiKv::bare(base.wrapping_add(k), kl),
        };
        n += 1;
    });
    (n as c_int, truncated)
}

/// Upstream's debug line when `max` cut the arguments short (its tests grep
/// for it).
pub(crate) fn log_args_limit(r: crate::nginx::request::Request, max: c_int) {
    if r.logs(NGX_LOG_DEBUG) {
        r.log_error(
            NGX_LOG_DEBUG,
            format!("lua hit query args limit {max}").as_bytes(),
        );
    }
}

export! {
    /// `ngx.req.get_uri_args(max)`: `buf` holds the query string's length,
    /// `out` one entry per byte of it, plus one.
    fn ngx_lua_ffi_req_get_uri_args(
        buf: *mut u8,
        out: *mut FfiKv,
        max: c_int,
        truncated: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(REQUEST_PHASES, err).req();
        let args = r.args();
        let buf = lua_buf!(buf, args.len());
        buf.copy_from_slice(args);
        let (n, cut) = parse_args_into(buf, lua_buf!(out, args.len() + 1), max);
        if cut {
            log_args_limit(r, max);
        }
        out!(truncated, cut as c_int);
        n
    }
}

export! {
    fn ngx_lua_ffi_req_set_uri_args(
        args: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(NO_LOG, err).req();
        // Controls and spaces would end or split the request line of a
        // proxied request: escaped as upstream does.
        if !r.set_args(&text::escape_args(lua_bytes!(args, len))) {
            err.set(b"no memory");
            return FFI_ERROR;
        }
        FFI_OK
    }
}

export! {
    /// `ngx.req.set_uri(uri, jump, binary)`. With `jump`, `FFI_DONE`: the
    /// Lua side yields and the rewrite phase ends so nginx looks up the
    /// location for the new URI.
    fn ngx_lua_ffi_req_set_uri(
        uri: *const u8,
        len: usize,
        jump: c_int,
        binary: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let ctx = running!(NO_LOG, err);
        let r = ctx.req();
        let u = lua_bytes!(uri, len);
        if u.is_empty() {
            err.set(b"attempt to use zero-length uri");
            return FFI_ERROR;
        }
        if binary == 0 {
            if let Some(b) = text::unsafe_uri_byte(u) {
                err.set_fmt(format_args!(
                    "unsafe byte \"0x{b:02x}\" in uri \"{}\" (maybe you want to set the 'binary' argument?)",
                    text::escape_log(u)
                ));
                return FFI_ERROR;
            }
        }
        let phase = current().phase;
        if jump != 0 && !matches!(phase, Phase::Rewrite | Phase::ServerRewrite) {
            err.set(disabled(phase).as_bytes());
            return FFI_ERROR;
        }
        if !r.set_uri(u) {
            err.set(b"no memory");
            return FFI_ERROR;
        }
        if jump == 0 {
            r.keep_location();
            return FFI_OK;
        }
        if ctx.phases.pending_captures > 0 {
            err.set(PENDING_SUBREQUESTS);
            return FFI_ERROR;
        }
        r.jump_uri();
        // A location rewrite handler runs again after nginx found the new
        // location; a server rewrite one is not re-entered.
        ctx.phases.uri_jump = phase == Phase::Rewrite;
        ctx.phases.jump_drops_ctx = true;
        ctx.exit_code = Some(0);
        FFI_DONE
    }
}
