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

/// Frames shown per coroutine and coroutines shown in a thread's
/// traceback, as upstream's limits.
const BT_DEPTH: c_int = 22;
const BT_MAX_COROS: usize = 5;

/// Registry key of the table where lua-lib's `coroutine.wrap` records an
/// error it passes up: `[parent coroutine] = {failed coroutine, error}`
/// (lua-lib/resty/core/coroutine.lua).
pub const WRAP_FAILED: &core::ffi::CStr = c"ngx_lua.wrap_failed";

/// The user coroutines whose error, passed up by `coroutine.wrap`, is the
/// error `co` failed with, innermost first: upstream's traceback of such a
/// failure starts in the coroutine that raised it. A record whose error is
/// not `co`'s, or a coroutine that did not fail in the re-raise (it caught
/// that error and failed later), ends the walk.
///
/// # Safety
/// `L` is a live state of the VM `co` belongs to, not `co`; `co` is not
/// running and holds its error value on top.
pub unsafe fn wrap_failures(L: *mut lua_State, co: *mut lua_State) -> Vec<*mut lua_State> {
    let mut chain = Vec::new();
    // SAFETY: the caller's promise; every push below is undone by the
    // settop, and `co`/`cur` get back the stack size they had (their pushed
    // copy moves to L).
    unsafe {
        if lua_gettop(co) < 1 || lua_checkstack(L, 8) == 0 {
            return chain;
        }
        let top = lua_gettop(L);
        lua_getfield(L, LUA_REGISTRYINDEX, WRAP_FAILED.as_ptr());
        if lua_type(L, -1) != LUA_TTABLE {
            lua_settop(L, top);
            return chain;
        }
        lua_pushvalue(co, -1);
        lua_xmove(co, L, 1);
        let (tbl, err) = (top + 1, top + 2);
        let mut cur = co;
        lua_getfield(L, tbl, c"raiser".as_ptr());
        let raiser = err + 1;
        let mut ar = core::mem::MaybeUninit::<lua_Debug>::zeroed();
        while chain.len() < BT_MAX_COROS {
            // `cur` failed in lua-lib's re-raise of a wrapped coroutine's
            // error only if that function is its frame below `error`'s.
            if lua_checkstack(cur, 2) == 0 || lua_getstack(cur, 1, ar.as_mut_ptr()) == 0 {
                break;
            }
            lua_getinfo(cur, c"f".as_ptr(), ar.as_mut_ptr());
            lua_xmove(cur, L, 1);
            let by_raiser = lua_rawequal(L, -1, raiser) != 0;
            lua_settop(L, raiser);
            if !by_raiser {
                break;
            }
            lua_pushthread(cur);
            lua_xmove(cur, L, 1);
            let key = raiser + 1;
            lua_pushvalue(L, key);
            lua_rawget(L, tbl);
            if lua_type(L, -1) != LUA_TTABLE {
                break;
            }
            lua_rawgeti_(L, -1, 1);
            let child = lua_tothread(L, -1);
            lua_rawgeti_(L, -2, 2);
            let same = lua_rawequal(L, -1, err) != 0;
            // Read once: a recycled entry thread must not find it again.
            lua_settop(L, key);
            lua_pushnil(L);
            lua_rawset(L, tbl);
            if child.is_null() || !same || chain.contains(&child) {
                break;
            }
            chain.push(child);
            cur = child;
        }
        lua_settop(L, top);
    }
    chain.reverse();
    chain
}

/// The "stack traceback:" text upstream logs when a thread aborts: for
/// each of `cos` (the failed coroutine, then the live threads that spawned
/// it) a "coroutine N:" section with one line per frame.
///
/// # Safety
/// Every state in `cos` is a live coroutine of one VM that is not running
/// (suspended, waiting on a child, or just failed with its stack kept).
pub unsafe fn thread_traceback(cos: &[*mut lua_State]) -> Vec<u8> {
    fn c_bytes<'a>(p: *const c_char) -> &'a [u8] {
        if p.is_null() {
            return b"";
        }
        // SAFETY: LuaJIT's debug strings are NUL-terminated and live as
        // long as the function they describe.
        unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes()
    }
    let mut out = b"stack traceback:".to_vec();
    for (id, &co) in cos.iter().take(BT_MAX_COROS).enumerate() {
        out.extend_from_slice(format!("\ncoroutine {id}:").as_bytes());
        let mut level = 0;
        let mut ar = core::mem::MaybeUninit::<lua_Debug>::zeroed();
        // SAFETY: the caller's promise; lua_getstack/lua_getinfo fill ar.
        while unsafe { lua_getstack(co, level, ar.as_mut_ptr()) } != 0 {
            level += 1;
            if level > BT_DEPTH {
                out.extend_from_slice(b"\n\t...");
                break;
            }
            // SAFETY: as above; "Snl" pushes nothing.
            let ar = unsafe {
                lua_getinfo(co, c"Snl".as_ptr(), ar.as_mut_ptr());
                ar.assume_init_ref()
            };
            out.extend_from_slice(b"\n\t");
            out.extend_from_slice(c_bytes(ar.short_src.as_ptr()));
            out.push(b':');
            if ar.currentline > 0 {
                out.extend_from_slice(format!("{}:", ar.currentline).as_bytes());
            }
            let what = c_bytes(ar.what);
            if !c_bytes(ar.namewhat).is_empty() {
                out.extend_from_slice(b" in function '");
                out.extend_from_slice(c_bytes(ar.name));
                out.push(b'\'');
            } else if what.first() == Some(&b'm') {
                out.extend_from_slice(b" in main chunk");
            } else if matches!(what.first(), Some(b'C' | b't')) {
                out.extend_from_slice(b" ?");
            } else {
                out.extend_from_slice(b" in function <");
                out.extend_from_slice(c_bytes(ar.short_src.as_ptr()));
                out.extend_from_slice(format!(":{}>", ar.linedefined).as_bytes());
            }
        }
    }
    out
}
