//! ngx.var: nginx variables and regex captures.
use core::ffi::c_int;

use super::*;
use crate::nginx::variables::SetVarError;

export! {
    /// Reads `$name` (or capture `capture_id` when `name` is NULL). `FFI_OK`
    /// with the value, `FFI_DECLINED` for an undefined or not-found variable.
    fn ngx_lua_ffi_var_get(
        name: *const u8,
        len: usize,
        capture_id: c_int,
        lowcase: *mut u8,
        value: &mut *const u8,
        // int, not size_t: see FfiKv (a variable's length is 28 bits).
        value_len: &mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let ctx = match running(REQUEST_PHASES, &mut err) {
            Ok(c) => c,
            // FFI_DECLINED is this function's "no value": a refused phase
            // is an error with its text.
            Err(FFI_DECLINED) => return FFI_ERROR,
            Err(rc) => return rc,
        };
        let r = ctx.req();
        let v = if name.is_null() {
            usize::try_from(capture_id).ok().and_then(|n| r.capture(n))
        } else {
            r.variable(lua_bytes!(name, len), lua_buf!(lowcase, len))
        };
        match v {
            Some(v) => {
                *value = v.as_ptr();
                *value_len = v.len() as c_int;
                FFI_OK
            }
            None => FFI_DECLINED,
        }
    }
}

export! {
    /// Writes `$name`; only variables nginx marks changeable can be written.
    fn ngx_lua_ffi_var_set(
        name: *const u8,
        len: usize,
        lowcase: *mut u8,
        value: *const u8,
        value_len: usize,
        is_nil: c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let ctx = running!(REQUEST_PHASES & !Phase::Log.bit(), err);
        let lowcase = lua_buf!(lowcase, len);
        let value = (is_nil == 0).then(|| lua_bytes!(value, value_len));
        let res = ctx.req().set_variable(lua_bytes!(name, len), lowcase, value);
        let shown = String::from_utf8_lossy(lowcase);
        match res {
            Ok(()) => return FFI_OK,
            Err(SetVarError::NotFound) => err.set_fmt(format_args!(
                "variable \"{shown}\" not found for writing; maybe it is a built-in variable that \
                 is not changeable or you forgot to use \"set ${shown} '';\" in the config file \
                 to define it first"
            )),
            Err(SetVarError::NotChangeable) => {
                err.set_fmt(format_args!("variable \"{shown}\" not changeable"))
            }
            Err(SetVarError::NotAssignable) => {
                err.set_fmt(format_args!("variable \"{shown}\" cannot be assigned a value"))
            }
            Err(SetVarError::NoMemory) => err.set(b"no memory"),
        }
        FFI_ERROR
    }
}
