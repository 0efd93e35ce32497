//! `ngx.balancer` (lua-lib/ngx/balancer.lua): what a `balancer_by_lua*`
//! handler decides for the try being set up.
//!
//! As upstream, these functions answer outside the balancer with an error
//! the Lua side returns rather than raises: "no upstream found" for a
//! request without an upstream, "API disabled in the current context" in
//! its other phases; only a call with no request at all raises.
use core::ffi::{c_int, c_long, c_uint, c_ulong};

use super::{ErrOut, FFI_ERROR, FFI_NO_REQ, FFI_OK};
use crate::balancer::{self, Try};
use crate::lua::phase::Phase;
use crate::lua::sched::current;

/// The try being set up, or the status and text to answer with.
fn running_try(err: &mut ErrOut) -> Result<Try, c_int> {
    let cur = current();
    let Some(ctx) = cur.lua_ctx() else {
        err.set(b"no request found");
        return Err(FFI_NO_REQ);
    };
    if ctx.req().upstream().is_none() {
        err.set(b"no upstream found");
        return Err(FFI_ERROR);
    }
    match balancer::running() {
        Some(t) if cur.phase == Phase::Balancer => Ok(t),
        _ => {
            err.set(b"API disabled in the current context");
            Err(FFI_ERROR)
        }
    }
}

macro_rules! running_try {
    ($err:expr) => {
        match running_try(&mut $err) {
            Ok(t) => t,
            Err(rc) => return rc,
        }
    };
}

/// `FFI_OK`, or `FFI_ERROR` with `msg` in the error buffer.
fn answer(r: Result<(), &[u8]>, err: &mut ErrOut) -> c_int {
    match r {
        Ok(()) => FFI_OK,
        Err(msg) => {
            err.set(msg);
            FFI_ERROR
        }
    }
}

export! {
    fn ngx_lua_ffi_balancer_set_current_peer(
        addr: *const u8,
        addr_len: usize,
        port: c_int,
        host: *const u8,
        host_len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = running_try!(err);
        let r = t.set_current_peer(lua_bytes!(addr, addr_len), port, lua_bytes!(host, host_len));
        answer(r, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_balancer_enable_keepalive(
        timeout: c_ulong,
        max_requests: c_uint,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = running_try!(err);
        let r = t.enable_keepalive(timeout as _, max_requests as _);
        answer(r, &mut err)
    }
}

export! {
    /// `FFI_OK` with the error buffer empty, or holding the warning when
    /// the count was reduced.
    fn ngx_lua_ffi_balancer_set_more_tries(count: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = running_try!(err);
        err.set(t.set_more_tries(count).unwrap_or(b""));
        FFI_OK
    }
}

export! {
    /// The previous try's state (0: first try; `NGX_PEER_NEXT`,
    /// `NGX_PEER_FAILED`) with its status in `*status`, or `FFI_ERROR`.
    fn ngx_lua_ffi_balancer_get_last_failure(
        status: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = running_try!(err);
        let (state, code) = t.last_failure();
        out!(status, code);
        state
    }
}

export! {
    /// Timeouts in ms; 0 keeps the configured one.
    fn ngx_lua_ffi_balancer_set_timeouts(
        connect: c_long,
        send: c_long,
        read: c_long,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = running_try!(err);
        let r = t.set_timeouts(connect as i64, send as i64, read as i64);
        answer(r, &mut err)
    }
}

export! {
    /// `FFI_ERROR` with an empty error buffer when the module could not
    /// build the request.
    fn ngx_lua_ffi_balancer_recreate_request(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = running_try!(err);
        if t.recreate_request() {
            FFI_OK
        } else {
            err.set(b"");
            FFI_ERROR
        }
    }
}

export! {
    fn ngx_lua_ffi_balancer_set_upstream_tls(on: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = running_try!(err);
        answer(t.set_upstream_tls(on != 0), &mut err)
    }
}

export! {
    fn ngx_lua_ffi_balancer_bind_to_local_addr(
        addr: *const u8,
        addr_len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let t = running_try!(err);
        match t.bind_to_local_addr(lua_bytes!(addr, addr_len)) {
            Ok(()) => FFI_OK,
            Err(msg) => {
                err.set(&msg);
                FFI_ERROR
            }
        }
    }
}
