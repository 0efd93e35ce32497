//! ngx.errlog: the capture buffer of `lua_capture_error_log`, the error
//! log's level, and logging without the `[lua] file:line:` prefix.
use core::ffi::{c_char, c_int};

use nginx_sys::NGX_LOG_DEBUG;

use super::*;
use crate::errlog;
use crate::nginx::log_writer;

/// The running request, if any (whatever the phase).
fn request() -> Option<Request> {
    running(u32::MAX, &mut ErrOut::none()).ok().map(|c| c.req())
}

export! {
    fn ngx_lua_ffi_errlog_set_filter_level(level: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        match errlog::set_filter_level(level as i64) {
            Ok(()) => FFI_OK,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// Takes the oldest captured line: its length, with its text, level
    /// and time in the out-parameters; `FFI_DONE` when none is left.
    fn ngx_lua_ffi_errlog_get_msg(
        log: &mut *const c_char,
        level: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
        time: &mut f64,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        match errlog::take() {
            Ok(Some((l, t, text))) => {
                *log = text.as_ptr() as *const c_char;
                *level = l as c_int;
                *time = t;
                text.len() as c_int
            }
            Ok(None) => FFI_DONE,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_errlog_get_sys_filter_level() -> c_int {
        log_writer::level_of(request()) as c_int
    }
}

export! {
    /// Logs `msg` as is at `level` to the running code's log; `FFI_ERROR`
    /// for a level outside `ngx.STDERR`..`ngx.DEBUG`.
    fn ngx_lua_ffi_raw_log(level: c_int, msg: *const u8, len: usize) -> c_int {
        if !(0..=NGX_LOG_DEBUG as c_int).contains(&level) {
            return FFI_ERROR;
        }
        let msg = lua_bytes!(msg, len);
        match request() {
            Some(r) => r.log_error(level as u32, msg),
            None => crate::nginx::log::cycle(level as u32, msg),
        }
        FFI_OK
    }
}
