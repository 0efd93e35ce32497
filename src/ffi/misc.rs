//! ngx.status, ngx.is_subrequest, ngx.headers_sent.
use core::ffi::c_int;

use super::*;

export! {
    fn ngx_lua_ffi_get_status(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(REQUEST_PHASES, err).req();
        let s = r.err_status();
        (if s != 0 { s } else { r.status() }) as c_int
    }
}

export! {
    fn ngx_lua_ffi_set_status(status: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let r = running!(REQUEST_PHASES & !Phase::Log.bit(), err).req();
        if header_sent_already(r, "ngx.status") {
            return FFI_OK;
        }
        if !(100..=999).contains(&status) {
            err.set(b"invalid HTTP status code");
            return FFI_ERROR;
        }
        r.set_status(status as nginx_sys::ngx_uint_t);
        if status == 101 {
            // nginx has no built-in reason for 101 and would send
            // "101 " alone; websocket clients expect upstream's line.
            r.set_static_status_line(b"101 Switching Protocols");
        } else {
            r.clear_status_line();
        }
        FFI_OK
    }
}

export! {
    fn ngx_lua_ffi_is_subrequest() -> c_int {
        let cur = current();
        match cur.lua_ctx() {
            None => FFI_NO_REQ,
            // Upstream refuses on a fake request (a timer's).
            Some(_) if cur.phase == Phase::Timer => FFI_DECLINED,
            Some(ctx) => !ctx.req().is_main() as c_int,
        }
    }
}

export! {
    fn ngx_lua_ffi_headers_sent() -> c_int {
        let cur = current();
        match cur.lua_ctx() {
            None => FFI_NO_REQ,
            // A timer's fake request has no response: upstream refuses.
            Some(_) if cur.phase == Phase::Timer => FFI_DECLINED,
            Some(ctx) => ctx.req().header_sent() as c_int,
        }
    }
}
