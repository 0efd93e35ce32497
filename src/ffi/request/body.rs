//! ngx.req request body: read_body (waits), discard_body, get_body_data,
//! get_body_file, get_post_args. Replacing it: `body_set.rs`.
use core::ffi::c_int;

use super::{log_args_limit, parse_args_into};
use crate::ffi::*;
use crate::nginx::request::OK;
use crate::phase::body::{read_for_lua, LuaRead};

const READ_PHASES: u32 = crate::lua::phase::HANDLER_PHASES;

export! {
    /// `ngx.req.read_body()`: `FFI_OK` when the body is there (or there is
    /// none), `FFI_AGAIN` when the Lua side must yield until it is read,
    /// `FFI_DONE` when reading failed with an HTTP status the handler ends
    /// with (413, 400, ...).
    fn ngx_lua_ffi_req_read_body(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        match read_for_lua(running!(context: READ_PHASES, err)) {
            LuaRead::Ready => FFI_OK,
            LuaRead::Again => FFI_AGAIN,
            LuaRead::Status => FFI_DONE,
            LuaRead::Failed => {
                err.set(b"failed to read request body");
                FFI_ERROR
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_req_discard_body(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        if running!(READ_PHASES, err).req().discard_client_body() != OK {
            err.set(b"failed to discard request body");
            return FFI_ERROR;
        }
        FFI_OK
    }
}

/// Reading or replacing the body is not tied to a phase upstream (only
/// timers, which have no client, are refused).
pub(super) const DATA_PHASES: u32 = REQUEST_PHASES;

export! {
    /// Length of `ngx.req.get_body_data()`, `FFI_DECLINED` for nil.
    fn ngx_lua_ffi_req_get_body_len(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        match running!(raise_in_timer: DATA_PHASES, err).req().client_body_len() {
            Some(n) => n as c_int,
            None => FFI_DECLINED,
        }
    }
}

export! {
    fn ngx_lua_ffi_req_copy_body(
        buf: *mut u8,
        size: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(DATA_PHASES, err).req();
        if r.client_body_len().is_none() {
            return FFI_DECLINED;
        }
        r.copy_client_body(lua_buf!(buf, size)) as c_int
    }
}

export! {
    fn ngx_lua_ffi_req_get_body_file(
        name: *mut *const u8,
        len: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(raise_in_timer: DATA_PHASES, err).req();
        let Some(file) = r.client_body_file() else {
            return FFI_DECLINED;
        };
        out!(name, file.as_ptr());
        out!(len, file.len());
        FFI_OK
    }
}

const POST_ARGS_PHASES: u32 =
    READ_PHASES | Phase::HeaderFilter.bit() | Phase::BodyFilter.bit() | Phase::Log.bit();

export! {
    /// Length of the form body `ngx.req.get_post_args` parses (0 for
    /// none); `FFI_DECLINED` with the reason when the body is in a temp
    /// file (a `nil, err` result, as upstream).
    fn ngx_lua_ffi_req_get_post_args_len(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(raise_in_timer: POST_ARGS_PHASES, err).req();
        if r.discarding_client_body() {
            return 0;
        }
        if !r.has_client_body() {
            err.set(b"no request body found; maybe you should turn on lua_need_request_body?");
            return FFI_ERROR;
        }
        if r.client_body_file().is_some() {
            err.set(b"request body in temp file not supported");
            return FFI_DECLINED;
        }
        r.client_body_len().unwrap_or(0) as c_int
    }
}

export! {
    /// Parses the body (copied into `buf`, sized by the call above; `out`
    /// holds one entry per byte of it, plus one) into `out`.
    fn ngx_lua_ffi_req_get_post_args(
        buf: *mut u8,
        size: usize,
        out: *mut FfiKv,
        max: c_int,
        truncated: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(POST_ARGS_PHASES, err).req();
        let buf = lua_buf!(buf, size);
        let n = r.copy_client_body(buf);
        let (n, cut) = parse_args_into(&mut buf[..n], lua_buf!(out, size + 1), max);
        if cut {
            log_args_limit(r, max);
        }
        out!(truncated, cut as c_int);
        n
    }
}
