//! ngx.exec, ngx.redirect.
use core::ffi::c_int;

use super::*;
use crate::codec::text;
use crate::http::ctx::Exec;
use crate::nginx::redirect::ExecError;

const EXEC_PHASES: u32 = crate::lua::phase::HANDLER_PHASES;

export! {
    /// Records `ngx.exec(uri, args)`; `FFI_OK`: the Lua side yields and
    /// the phase code performs the redirect. `args` (already encoded by
    /// Lua) is appended to any query string in `uri`.
    fn ngx_lua_ffi_exec(
        uri: *const u8,
        uri_len: usize,
        args: *const u8,
        args_len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let ctx = running!(context: EXEC_PHASES, err);
        let r = ctx.req();
        if uri_len == 0 {
            err.set(b"The uri argument is empty");
            return FFI_ERROR;
        }
        if ctx.phases.pending_captures > 0 {
            err.set(PENDING_SUBREQUESTS);
            return FFI_ERROR;
        }
        let (uri, args) = match r.exec_target(lua_bytes!(uri, uri_len), lua_bytes!(args, args_len)) {
            Ok(t) => t,
            Err(ExecError::NoMemory) => {
                err.set(b"no memory");
                return FFI_ERROR;
            }
            Err(ExecError::Unsafe) => {
                err.set(b"unsafe uri");
                return FFI_ERROR;
            }
        };
        if r.header_sent() {
            err.set(b"attempt to call ngx.exec after sending out response headers");
            return FFI_ERROR;
        }
        ctx.phases.exec = Some(Exec { uri, args });
        ctx.exit_code = Some(nginx_sys::NGX_DONE as isize);
        FFI_OK
    }
}

export! {
    /// `ngx.redirect(uri, status)`: sets `Location` and exits with `status`.
    fn ngx_lua_ffi_redirect(
        uri: *const u8,
        uri_len: usize,
        status: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let ctx = running!(context: EXEC_PHASES, err);
        let r = ctx.req();
        if ctx.phases.pending_captures > 0 {
            err.set(PENDING_SUBREQUESTS);
            return FFI_ERROR;
        }
        if ![301, 302, 303, 307, 308].contains(&status) {
            err.set(
                b"only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, \
                  ngx.HTTP_PERMANENT_REDIRECT, ngx.HTTP_SEE_OTHER, and \
                  ngx.HTTP_TEMPORARY_REDIRECT are allowed",
            );
            return FFI_ERROR;
        }
        if r.header_sent() {
            err.set(b"attempt to call ngx.redirect after sending out the headers");
            return FFI_ERROR;
        }
        let u = lua_bytes!(uri, uri_len);
        if let Some(b) = text::unsafe_uri_byte(u) {
            err.set_fmt(format_args!(
                "unsafe byte \"0x{b:02x}\" in redirect uri \"{}\"",
                text::escape_log(u)
            ));
            return FFI_ERROR;
        }
        if !r.add_redirect_location(u) {
            err.set(b"no memory");
            return FFI_ERROR;
        }
        ctx.exit_code = Some(status as isize);
        FFI_OK
    }
}
