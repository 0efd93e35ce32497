//! ngx.var: nginx variables and regex captures.
use core::ffi::c_int;

use super::*;
use crate::lua::cfunction::Raise;
use crate::nginx::variables::SetVarError;

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

/// The running request in `allowed` phases for a C function, or the error
/// it raises (upstream's texts, at the caller's position).
fn running_c(allowed: u32) -> Result<&'static mut RequestCtx, Raise> {
    let cur = current();
    let Some(ctx) = RequestCtx::running() else {
        return Err(Raise::Error(super::no_request(cur.phase)));
    };
    if allowed & cur.phase.bit() == 0 {
        // A timer runs on a fake request, which upstream's variable
        // access refuses in its own words (see super::refusal).
        if cur.phase == Phase::Timer {
            return Err(Raise::Error(c"API disabled in the current context"));
        }
        return Err(Raise::DisabledHere(cur.phase));
    }
    Ok(ctx)
}

cfunction! {
    /// `ngx.var[name]`: `$name`, or capture `name` of the last regex
    /// match when `name` is a number; nil for an undefined or not-found
    /// variable. A C function: handler chunks, which LuaJIT interprets,
    /// read variables through this metamethod, and LuaJIT compiles no
    /// trace for a Lua `__index` called from the interpreter (returning
    /// into the metamethod's continuation frame is not implemented), so
    /// the FFI version ran interpreted, about 5,000 instructions a read.
    fn var_index(L) {
        // The number check only for a non-string: a name is the common
        // case, and each type check is a call into LuaJIT.
        let name = match L.str_at(2) {
            Some(s) => Some(s),
            None if L.number_at(2).is_some() => None,
            None => return Err(Raise::Error(c"bad variable name")),
        };
        let ctx = running_c(REQUEST_PHASES)?;
        let r = ctx.req();
        let v = match name {
            None => usize::try_from(L.to_number(2) as i32).ok().and_then(|n| r.capture(n)),
            Some(name) => {
                let mut stack = [0u8; 64];
                let mut heap = Vec::new();
                let lowcase: &mut [u8] = if name.len() <= stack.len() {
                    &mut stack[..name.len()]
                } else {
                    heap.resize(name.len(), 0);
                    &mut heap
                };
                r.variable(name, lowcase)
            }
        };
        match v {
            Some(v) => L.push_str(v),
            None => L.push_nil(),
        }
        Ok(1)
    }
}

/// Installed into `package.loaded["ngx_lua.var"]` for lua-lib.
pub const CFUNCS: &[(&core::ffi::CStr, crate::lua::raw::lua_CFunction)] = &[(c"index", var_index)];
