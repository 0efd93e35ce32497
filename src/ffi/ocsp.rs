//! `ngx.ocsp` (lua-lib/ngx/ocsp.lua): OCSP requests and responses for a
//! DER chain (any context), and the staple of the handshake an
//! `ssl_certificate_by_lua*` handler serves.
use core::ffi::{c_int, c_long};

use super::ssl::tls;
use super::{FFI_BUSY, FFI_DECLINED, FFI_ERROR, FFI_OK};
use crate::nginx::ocsp;

/// The room lua-lib gave (`*size`).
fn room(size: *mut usize) -> usize {
    *lua_buf!(size, 1).first().unwrap_or(&0)
}

export! {
    /// The leaf's OCSP responder URL into `out` (`*size`: the room, then
    /// the length). `FFI_DECLINED`: none; `FFI_BUSY`: cut to the room.
    fn ngx_lua_ffi_ocsp_responder(
        chain: *const u8,
        chain_len: usize,
        out: *mut u8,
        size: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let cap = room(size);
        match ocsp::responder(lua_bytes!(chain, chain_len)) {
            Ok(None) => FFI_DECLINED,
            Ok(Some(url)) => {
                let n = url.len().min(cap);
                lua_buf!(out, cap)[..n].copy_from_slice(&url[..n]);
                out!(size, n);
                if n < url.len() {
                    FFI_BUSY
                } else {
                    FFI_OK
                }
            }
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// A DER OCSP request into `out` (`*size`: the room, then the
    /// length). `FFI_BUSY`: it needs `*size` bytes.
    fn ngx_lua_ffi_ocsp_create_request(
        chain: *const u8,
        chain_len: usize,
        out: *mut u8,
        size: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let cap = room(size);
        match ocsp::request(lua_bytes!(chain, chain_len)) {
            Ok(req) if req.len() > cap => {
                err.set(b"output buffer too small");
                out!(size, req.len());
                FFI_BUSY
            }
            Ok(req) => {
                lua_buf!(out, cap)[..req.len()].copy_from_slice(&req);
                out!(size, req.len());
                FFI_OK
            }
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// Checks a DER response for the chain's leaf; `*next_update`: its
    /// nextUpdate (Unix time), 0 without one. The reason of a failure goes
    /// to `err`, cut to `*errlen` (the caller's `max_err_msg_len`).
    fn ngx_lua_ffi_ocsp_validate_response(
        resp: *const u8,
        resp_len: usize,
        chain: *const u8,
        chain_len: usize,
        err: *mut u8,
        errlen: *mut usize,
        next_update: *mut c_long,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        match ocsp::validate(lua_bytes!(resp, resp_len), lua_bytes!(chain, chain_len)) {
            Ok(next) => {
                out!(next_update, next.unwrap_or(0) as c_long);
                FFI_OK
            }
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// Staples `resp` to the running handshake; `FFI_DECLINED`: the client
    /// asked for no status.
    fn ngx_lua_ffi_ocsp_set_status_resp(
        resp: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = match tls(&mut err) {
            Ok(t) => t,
            Err(rc) => return rc,
        };
        match t.set_ocsp_status_resp(lua_bytes!(resp, len)) {
            Ok(true) => FFI_OK,
            Ok(false) => FFI_DECLINED,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}
