//! `ngx.ssl.session` (lua-lib/ngx/ssl/session.lua): the session id and
//! data of the handshake an `ssl_session_fetch_by_lua*` or
//! `ssl_session_store_by_lua*` handler serves.
//!
//! As upstream: "no request found" raised outside requests, "bad request"
//! without TLS, "bad lua context" on a TLS connection outside those
//! handlers, and upstream's texts for bad sessions.
use core::ffi::c_int;

use super::ssl::{answer, copy_out, tls};
use super::{ErrOut, FFI_ERROR, FFI_OK};
use crate::codec::hash::hex_into;
use crate::nginx::ssl_session;

/// Copies `v` (or the error) out; `FFI_OK` with the length in `len`.
fn give(
    v: Result<Vec<u8>, &str>,
    out: *mut u8,
    cap: usize,
    len: *mut usize,
    err: &mut ErrOut,
) -> c_int {
    match v {
        Ok(v) if copy_out(&v, out, cap, len) => FFI_OK,
        Ok(_) => {
            err.set(b"session too big to serialize");
            FFI_ERROR
        }
        Err(e) => {
            err.set(e.as_bytes());
            FFI_ERROR
        }
    }
}

fn hex(id: Vec<u8>) -> Vec<u8> {
    let mut h = vec![0; 2 * id.len()];
    hex_into(&id, &mut h);
    h
}

export! {
    /// `get_session_id`: the id in lowercase hex, as upstream.
    fn ngx_lua_ffi_ssl_session_id(
        out: *mut u8,
        cap: usize,
        len: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = match tls(&mut err) {
            Ok(t) => t,
            Err(rc) => return rc,
        };
        give(ssl_session::session_id(t).map(hex), out, cap, len, &mut err)
    }
}

export! {
    /// `get_serialized_session`: the DER form (at most `cap` bytes).
    fn ngx_lua_ffi_ssl_session_get(
        out: *mut u8,
        cap: usize,
        len: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = match tls(&mut err) {
            Ok(t) => t,
            Err(rc) => return rc,
        };
        give(ssl_session::serialized(t), out, cap, len, &mut err)
    }
}

export! {
    /// `set_serialized_session`, in `ssl_session_fetch_by_lua*`.
    fn ngx_lua_ffi_ssl_session_set(
        data: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = match tls(&mut err) {
            Ok(t) => t,
            Err(rc) => return rc,
        };
        answer(ssl_session::set_serialized(t, lua_bytes!(data, len)), &mut err)
    }
}
