//! ngx.thread.spawn / wait / kill: `lua_CFunction`s, because they create,
//! run and move values between coroutines (the Lua stack is the API here).
use core::ffi::c_int;
use core::ptr;

use super::{cfunction_ctx, push_fail, raise_disabled};
use crate::http::RequestCtx;
use crate::lua::ctx::LuaCtx;
use crate::lua::ctx::{CoCtx, CoState};
use crate::lua::phase::{HANDLER_PHASES, YIELDABLE};
use crate::lua::raw::*;
use crate::lua::sched::{current, run_one, take_results};

/// The running request and thread, or a raised Lua error.
unsafe fn thread_ctx(L: *mut lua_State) -> (&'static mut RequestCtx, *mut CoCtx) {
    // SAFETY: called from the thread lua_CFunctions.
    unsafe {
        let ctx = cfunction_ctx(L, YIELDABLE, c"no request found");
        let cur = current();
        if cur.co.is_null() {
            raise_disabled(L, cur.phase);
        }
        (ctx, cur.co)
    }
}

/// The newest thread record of coroutine `co` (records stay, marked dead,
/// until the handler ends).
fn find(ctx: &mut LuaCtx, co: *mut lua_State) -> *mut CoCtx {
    ctx.threads
        .iter_mut()
        .rev()
        .find(|t| t.co == co)
        .map_or(ptr::null_mut(), |t| &mut **t as *mut CoCtx)
}

/// `spawn(f, ...)`: returns the thread and whether the caller must yield
/// (the new thread ended the handler with ngx.exit or an error).
pub unsafe extern "C-unwind" fn spawn(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction; stack indices checked against gettop.
    unsafe {
        let (ctx, parent) = thread_ctx(L);
        luaL_checktype(L, 1, LUA_TFUNCTION);
        let n = lua_gettop(L);
        let co = lua_newthread(L);
        lua_pushvalue(L, -1);
        let co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        for i in 1..=n {
            lua_pushvalue(L, i);
        }
        lua_xmove(L, co, n);
        let mut t = CoCtx::new(co, co_ref, &mut ctx.lua, parent);
        let tp: *mut CoCtx = &mut *t;
        ctx.threads.push(t);
        run_one(tp, n - 1);
        let ctx = &*(*tp).ctx;
        lua_pushboolean(L, (ctx.exit_code.is_some() || ctx.entry_failed) as c_int);
        2
    }
}

/// `wait(t1, t2, ...)`: the results of the first to finish, or -2 when the
/// caller must yield until one does.
pub unsafe extern "C-unwind" fn wait(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction; thread records belong to ctx.
    unsafe {
        let (ctx, cur) = thread_ctx(L);
        let n = lua_gettop(L);
        if n == 0 {
            luaL_error(L, c"at least one coroutine should be specified".as_ptr());
        }
        let mut pending: Vec<*mut CoCtx> = Vec::new();
        for i in 1..=n {
            let co = lua_tothread(L, i);
            if co.is_null() {
                drop(pending);
                luaL_argerror(L, i, c"lua thread expected".as_ptr());
                unreachable!()
            }
            let t = find(ctx, co);
            if t.is_null() || (*t).is_entry() {
                drop(pending);
                luaL_error(
                    L,
                    c"attempt to wait on a coroutine that is not a user thread".as_ptr(),
                );
                unreachable!()
            }
            if (*t).parent != cur {
                drop(pending);
                luaL_error(
                    L,
                    c"only the parent coroutine can wait on the thread".as_ptr(),
                );
                unreachable!()
            }
            match (*t).state {
                CoState::Zombie => {
                    lua_settop(L, 0);
                    return take_results(&mut *t, L);
                }
                CoState::Dead => {
                    if i < n {
                        continue;
                    }
                    lua_pushnil(L);
                    lua_pushstring(L, c"already waited or killed".as_ptr());
                    return 2;
                }
                _ => pending.push(t),
            }
        }
        for t in pending {
            (*t).waited_by = cur;
        }
        (*cur).in_wait = true;
        lua_pushinteger(L, -2);
        1
    }
}

/// `kill(t)`: true, or nil and upstream's reason.
pub unsafe extern "C-unwind" fn kill(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction; thread records belong to ctx.
    unsafe {
        let (ctx, cur) = thread_ctx(L);
        let co = lua_tothread(L, 1);
        if co.is_null() {
            luaL_argerror(L, 1, c"lua thread expected".as_ptr());
        }
        let t = find(ctx, co);
        if t.is_null() || (*t).is_entry() {
            return push_fail(L, c"not user thread");
        }
        if (*t).parent != cur {
            return push_fail(L, c"killer not parent");
        }
        match (*t).state {
            CoState::Zombie => {
                (*t).state = CoState::Dead;
                (*t).release();
                push_fail(L, c"already terminated")
            }
            CoState::Dead => push_fail(L, c"already waited or killed"),
            _ => {
                if let Err(reason) = (*t).try_cancel_wait() {
                    return push_fail(L, reason);
                }
                (*t).cancel_events();
                if ctx.event_waiter == t {
                    ctx.event_waiter = ptr::null_mut();
                }
                for other in ctx.threads.iter_mut() {
                    if other.waited_by == t {
                        other.waited_by = ptr::null_mut();
                    }
                }
                (*t).state = CoState::Dead;
                (*t).release();
                lua_pushinteger(L, 1);
                1
            }
        }
    }
}

/// The status of a light thread whose coroutine status would mislead:
/// "zombie" (finished, not waited for: its results stay on its stack) or
/// "dead" (killed while suspended); nil otherwise.
pub unsafe extern "C-unwind" fn status(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction.
    unsafe {
        let co = lua_tothread(L, 1);
        let cur = current();
        let state = match (cur.ctx.as_mut(), co.is_null()) {
            (Some(ctx), false) => {
                let t = find(ctx, co);
                if t.is_null() {
                    None
                } else {
                    Some((*t).state)
                }
            }
            _ => None,
        };
        match state {
            Some(CoState::Zombie) => push_bytes(L, b"zombie"),
            Some(CoState::Dead) => push_bytes(L, b"dead"),
            _ => lua_pushnil(L),
        }
        1
    }
}

/// `ngx.on_abort(f)`: registers `f` to run as a light thread if the client
/// closes the connection while the handler runs.
pub unsafe extern "C-unwind" fn on_abort(L: *mut lua_State) -> c_int {
    // SAFETY: a lua_CFunction; the new record belongs to ctx.
    unsafe {
        let (ctx, parent) = thread_ctx(L);
        let cur = current();
        // Every yieldable phase but timers, which have no client.
        if HANDLER_PHASES & cur.phase.bit() == 0 {
            raise_disabled(L, cur.phase);
        }
        luaL_checktype(L, 1, LUA_TFUNCTION);
        if ctx.threads.iter().any(|t| t.state == CoState::Unstarted) {
            return push_fail(L, c"duplicate call");
        }
        if !crate::conf::loc_conf(ctx.r)
            .check_client_abort
            .unwrap_or(false)
        {
            return push_fail(L, c"lua_check_client_abort is off");
        }
        let co = lua_newthread(L);
        let co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_pushvalue(L, 1);
        lua_xmove(L, co, 1);
        let mut t = CoCtx::new(co, co_ref, &mut ctx.lua, parent);
        t.state = CoState::Unstarted;
        ctx.threads.push(t);
        lua_pushinteger(L, 1);
        1
    }
}

pub const CFUNCS: &[(&core::ffi::CStr, lua_CFunction)] = &[
    (c"spawn", spawn),
    (c"wait", wait),
    (c"kill", kill),
    (c"status", status),
    (c"on_abort", on_abort),
];
