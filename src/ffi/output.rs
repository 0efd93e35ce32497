//! ngx.say, ngx.print, ngx.flush, ngx.eof, ngx.send_headers.
//!
//! These are classic `lua_CFunction`s rather than FFI functions: sending
//! output runs the header and body filters, which may run Lua code
//! (`header_filter_by_lua*`), and LuaJIT forbids re-entering the VM from a
//! C function called through FFI. Errors are raised with `luaL_error`, so no
//! value with a destructor may be alive where one is raised.
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::push_fail;
use crate::http::RequestCtx;
use crate::lua::raw::*;
use crate::phase::output;

const OUTPUT_PHASES: u32 = crate::lua::phase::HANDLER_PHASES;

/// The current request in an output phase, or a raised Lua error.
unsafe fn output_ctx(L: *mut lua_State) -> &'static mut RequestCtx {
    // SAFETY: called from the output lua_CFunctions.
    unsafe { super::cfunction_ctx(L, OUTPUT_PHASES, c"no request object found") }
}

/// Byte length of the value at `idx` as ngx.print writes it; raises the
/// upstream argument errors (`in_table`: an element of an array table).
unsafe fn value_len(L: *mut lua_State, idx: c_int, arg: c_int, in_table: bool) -> usize {
    // SAFETY: valid state and index; errors raise through Lua.
    unsafe {
        match lua_type(L, idx) {
            LUA_TNUMBER | LUA_TSTRING => {
                let mut n = 0usize;
                lua_tolstring(L, idx, &mut n);
                n
            }
            LUA_TNIL => 3,
            LUA_TBOOLEAN => {
                if lua_toboolean(L, idx) != 0 {
                    4
                } else {
                    5
                }
            }
            LUA_TLIGHTUSERDATA => {
                if lua_touserdata(L, idx).is_null() {
                    4
                } else {
                    0
                }
            }
            LUA_TTABLE => {
                let t = if idx < 0 {
                    lua_gettop(L) + idx + 1
                } else {
                    idx
                };
                let max = array_len(L, t, arg);
                let mut size = 0;
                for i in 1..=max {
                    lua_rawgeti(L, t, i as _);
                    size += value_len(L, -1, arg, true);
                    lua_pop(L, 1);
                }
                size
            }
            ty if in_table => {
                let msg =
                    lua_pushfstring(L, c"bad data type %s found".as_ptr(), lua_typename(L, ty));
                luaL_argerror(L, arg, msg);
                unreachable!()
            }
            ty => {
                let msg = lua_pushfstring(
                    L,
                    c"string, number, boolean, nil, ngx.null, or array table expected, but got %s"
                        .as_ptr(),
                    lua_typename(L, ty),
                );
                luaL_argerror(L, arg, msg);
                unreachable!()
            }
        }
    }
}

/// Largest index of an array table (the elements are written 1..max, nil
/// for holes); raises "non-array table found". As upstream, which keeps
/// the maximum in a C int, keys beyond `i32::MAX` do not count: walking to
/// such a key (`[2^40] = v`) would take the worker hours.
unsafe fn array_len(L: *mut lua_State, t: c_int, arg: c_int) -> i64 {
    // SAFETY: valid state; t is an absolute index of a table.
    unsafe {
        let mut max = 0i64;
        lua_pushnil(L);
        while lua_next(L, t) != 0 {
            lua_pop(L, 1);
            let ok = lua_type(L, -1) == LUA_TNUMBER && {
                let k = lua_tonumber(L, -1);
                k.floor() == k && k >= 1.0
            };
            if !ok {
                lua_pop(L, 1);
                luaL_argerror(L, arg, c"non-array table found".as_ptr());
                unreachable!()
            }
            let k = lua_tonumber(L, -1);
            if k <= f64::from(i32::MAX) {
                max = max.max(k as i64);
            }
        }
        max
    }
}

/// Appends the value at `idx` at `p`, returning the new end.
unsafe fn copy_value(L: *mut lua_State, idx: c_int, mut p: *mut u8) -> *mut u8 {
    // SAFETY: p has room for value_len bytes (computed first).
    unsafe {
        let put = |p: *mut u8, s: &[u8]| {
            ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
            p.add(s.len())
        };
        match lua_type(L, idx) {
            LUA_TNUMBER | LUA_TSTRING => put(p, to_bytes(L, idx).unwrap_or(b"")),
            LUA_TNIL => put(p, b"nil"),
            LUA_TBOOLEAN => put(
                p,
                if lua_toboolean(L, idx) != 0 {
                    b"true"
                } else {
                    b"false"
                },
            ),
            LUA_TLIGHTUSERDATA if lua_touserdata(L, idx).is_null() => put(p, b"null"),
            LUA_TTABLE => {
                let t = if idx < 0 {
                    lua_gettop(L) + idx + 1
                } else {
                    idx
                };
                let max = array_len(L, t, 0);
                for i in 1..=max {
                    lua_rawgeti(L, t, i as _);
                    p = copy_value(L, -1, p);
                    lua_pop(L, 1);
                }
                p
            }
            _ => p,
        }
    }
}

unsafe fn print(L: *mut lua_State, newline: bool) -> c_int {
    // SAFETY: called by Lua; see the module comment about errors.
    unsafe {
        let ctx = output_ctx(L);
        if ctx.output.raw_socket {
            return push_fail(L, c"raw request socket acquired");
        }
        let r = ctx.r;
        if (*r).header_only() != 0 {
            return push_fail(L, c"header only");
        }
        if ctx.output.eof_sent {
            return push_fail(L, c"seen eof");
        }
        let nargs = lua_gettop(L);
        let mut size = 0usize;
        for i in 1..=nargs {
            size += value_len(L, i, i, false);
        }
        if newline {
            size += 1;
        }
        if size == 0 {
            let rc = output::send_header_if_needed(ctx);
            if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
                return push_fail(L, c"nginx output filter error");
            }
            lua_pushinteger(L, 1);
            return 1;
        }
        let cl = output::get_buf(ctx, size);
        if cl.is_null() {
            luaL_error(L, c"no memory".as_ptr());
            unreachable!()
        }
        let b = (*cl).buf;
        let mut p = (*b).last;
        for i in 1..=nargs {
            p = copy_value(L, i, p);
        }
        if newline {
            *p = b'\n';
            p = p.add(1);
        }
        (*b).last = p;
        let rc = output::send_chain(ctx, cl);
        if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
            return push_fail(L, c"nginx output filter error");
        }
        lua_pushinteger(L, 1);
        1
    }
}

pub unsafe extern "C-unwind" fn say(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction.
    unsafe { print(L, true) }
}

pub unsafe extern "C-unwind" fn print_(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction.
    unsafe { print(L, false) }
}

/// `flush(wait)`: returns 1 (done), -2 (wait armed: the Lua wrapper
/// yields until the send buffer drained), or nil + error.
pub unsafe extern "C-unwind" fn flush(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction.
    unsafe {
        let ctx = output_ctx(L);
        // A subrequest does not own the connection's write events (its
        // output is captured or postponed): it never waits, as upstream.
        let wait = lua_toboolean(L, 1) != 0 && (*ctx.r).main == ctx.r;
        if ctx.output.raw_socket {
            return push_fail(L, c"raw request socket acquired");
        }
        if ctx.output.eof_sent {
            return push_fail(L, c"seen eof");
        }
        if (*ctx.r).header_only() != 0 {
            return push_fail(L, c"header only");
        }
        if ctx.output.buffering {
            // lua_http10_buffering holds everything until the end.
            return push_fail(L, c"buffering");
        }
        let rc = output::send_flush(ctx);
        if rc == NGX_ERROR as isize {
            return push_fail(L, c"nginx output filter error");
        }
        if wait && crate::phase::flush::arm_wait(ctx) {
            lua_pushinteger(L, -2);
            return 1;
        }
        lua_pushinteger(L, 1);
        1
    }
}

/// Result of the last waiting flush: 1, or nil + error.
pub unsafe extern "C-unwind" fn flush_result(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction.
    unsafe {
        let ctx = output_ctx(L);
        match ctx.output.flush_error.take() {
            None => {
                lua_pushinteger(L, 1);
                1
            }
            Some(e) => push_fail(L, e),
        }
    }
}

pub unsafe extern "C-unwind" fn eof(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction.
    unsafe {
        let ctx = output_ctx(L);
        if lua_gettop(L) != 0 {
            luaL_error(L, c"no argument is expected".as_ptr());
        }
        if ctx.output.raw_socket {
            return push_fail(L, c"raw request socket acquired");
        }
        if ctx.output.eof_sent {
            return push_fail(L, c"seen eof");
        }
        let rc = output::send_eof(ctx);
        if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
            return push_fail(L, c"nginx output filter error");
        }
        lua_pushinteger(L, 1);
        1
    }
}

pub unsafe extern "C-unwind" fn send_headers(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction.
    unsafe {
        let ctx = output_ctx(L);
        if (*ctx.r).header_sent() != 0 {
            return push_fail(L, c"header already sent");
        }
        let rc = output::send_header_if_needed(ctx);
        if rc == NGX_ERROR as isize || rc > NGX_OK as isize {
            return push_fail(L, c"nginx output filter error");
        }
        lua_pushinteger(L, 1);
        1
    }
}

/// Installed into `package.loaded["ngx_lua.output"]` for lua-lib.
pub const CFUNCS: &[(&core::ffi::CStr, lua_CFunction)] = &[
    (c"say", say),
    (c"print", print_),
    (c"flush", flush),
    (c"flush_result", flush_result),
    (c"eof", eof),
    (c"send_headers", send_headers),
];
