//! LuaJIT's C API: mlua-sys's bindings plus the few it only offers as
//! Rust re-implementations, bound here to LuaJIT's own exports.
#![allow(non_snake_case)]
pub use mlua::ffi::*;

use core::ffi::{c_char, c_int};

extern "C-unwind" {
    #[link_name = "luaL_traceback"]
    pub fn luaL_traceback_(L: *mut lua_State, L1: *mut lua_State, msg: *const c_char, level: c_int);
}

/// Bytes of the string (or number) at `idx`, if it is one.
///
/// # Safety
/// `L` must be a valid state and `idx` a valid index. The slice lives as long
/// as the value stays on the stack.
pub unsafe fn to_bytes<'a>(L: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    // SAFETY: caller guarantees a valid state and index.
    let p = unsafe { lua_tolstring(L, idx, &mut len) };
    if p.is_null() {
        None
    } else {
        // SAFETY: lua_tolstring returned len valid bytes.
        Some(unsafe { core::slice::from_raw_parts(p as *const u8, len) })
    }
}

/// Pushes a byte string.
///
/// # Safety
/// `L` must be a valid state with room on its stack.
pub unsafe fn push_bytes(L: *mut lua_State, s: &[u8]) {
    // SAFETY: caller guarantees the state; lua_pushlstring copies.
    unsafe {
        lua_pushlstring(L, s.as_ptr() as *const c_char, s.len());
    }
}

/// When `co` failed inside a call of the `error` builtin, pushes that
/// call's first argument onto `co` (the message without the position
/// `error` prefixes) and returns true; false (nothing pushed) otherwise.
///
/// # Safety
/// `co` is a coroutine that just failed in `lua_resume` (its stack is not
/// unwound, so the failing frames are still there), with stack room.
pub unsafe fn push_error_arg(co: *mut lua_State) -> bool {
    // SAFETY: the caller's promise; lua_Debug is plain data that
    // lua_getstack fills; every push below is popped or left as the result.
    unsafe {
        let mut ar = core::mem::MaybeUninit::<lua_Debug>::zeroed();
        if lua_getstack(co, 0, ar.as_mut_ptr()) == 0 {
            return false;
        }
        if lua_getinfo(co, c"f".as_ptr(), ar.as_mut_ptr()) == 0 {
            return false;
        }
        lua_getfield(co, LUA_GLOBALSINDEX, c"error".as_ptr());
        let is_error = lua_rawequal(co, -1, -2) != 0;
        lua_pop(co, 2);
        if !is_error {
            return false;
        }
        !lua_getlocal(co, ar.as_ptr(), 1).is_null()
    }
}
