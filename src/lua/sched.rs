//! The coroutine scheduler: runs handler chunks in entry coroutines,
//! suspends them on the yield protocol and resumes them from nginx events.
use core::ffi::c_int;
use core::ptr;

use nginx_sys::*;

use super::ctx::RequestCtx;
use super::handler::Handler;
use super::raw::*;
use super::Global;
use crate::nginx::log::log_error;
use crate::phase::Phase;

/// What the FFI layer sees as "the running Lua code": the request (if any)
/// and the phase. Set around every entry into Lua.
#[derive(Clone, Copy)]
pub struct Current {
    pub ctx: *mut RequestCtx,
    pub phase: Phase,
}

static CURRENT: Global<Current> = Global::new(Current {
    ctx: ptr::null_mut(),
    phase: Phase::Init,
});

pub fn current() -> Current {
    CURRENT.get()
}

/// Sets the current context for its lifetime, restoring the previous one
/// (filters run Lua while a content handler's Lua is mid-call).
pub struct Enter(Current);

impl Enter {
    pub fn new(ctx: *mut RequestCtx, phase: Phase) -> Enter {
        let prev = CURRENT.get();
        CURRENT.set(Current { ctx, phase });
        Enter(prev)
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

unsafe extern "C-unwind" fn traceback(L: *mut lua_State) -> c_int {
    // SAFETY: message handler of lua_pcall: the error value is argument 1.
    unsafe {
        if lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER {
            lua_pushstring(L, c"unknown reason".as_ptr());
            lua_replace(L, 1);
        }
        let msg = lua_tostring(L, 1);
        luaL_traceback_(L, L, msg, 1);
    }
    1
}

/// Calls the function below `nargs` arguments on top of `L` with a
/// traceback handler; pops it. The error text carries the traceback.
///
/// # Safety
/// `L` is a valid state holding the function and arguments.
pub unsafe fn pcall(L: *mut lua_State, nargs: c_int) -> Result<(), String> {
    // SAFETY: stack discipline: [.. f args] -> [..].
    unsafe {
        let base = lua_gettop(L) - nargs;
        lua_pushcfunction(L, traceback);
        lua_insert(L, base);
        let rc = lua_pcall(L, nargs, 0, base);
        lua_remove(L, base);
        if rc != 0 {
            let e =
                String::from_utf8_lossy(to_bytes(L, -1).unwrap_or(b"unknown reason")).into_owned();
            lua_pop(L, 1);
            return Err(e);
        }
        Ok(())
    }
}

/// Runs a synchronous handler (filters, log, init phases) in the main thread.
///
/// # Safety
/// `ctx` is the live request context or null outside requests.
pub unsafe fn run_sync(
    ctx: *mut RequestCtx,
    L: *mut lua_State,
    h: &Handler,
    cache: bool,
) -> Result<(), String> {
    let _cur = Enter::new(ctx, h.phase);
    // SAFETY: valid state; r null outside requests (file paths with
    // variables are only allowed in request phases).
    unsafe {
        let r = ctx.as_ref().map_or(ptr::null_mut(), |c| c.r);
        h.push(L, r, cache)?;
        pcall(L, 0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The coroutine returned.
    Done,
    /// `ngx.exit` ended it.
    Exit(isize),
    /// Suspended until an nginx event resumes it.
    Yielded,
    /// A Lua error (already logged); `code` is the HTTP status to end with.
    Error,
}

fn err_kind(rc: c_int) -> &'static str {
    match rc {
        LUA_ERRRUN => "runtime error",
        LUA_ERRSYNTAX => "syntax error",
        LUA_ERRMEM => "[lua] memory allocation error",
        LUA_ERRERR => "error handler error",
        _ => "unknown error",
    }
}

/// Creates the entry coroutine for `h` and runs it.
///
/// # Safety
/// `ctx` is the live request context.
pub unsafe fn start(ctx: &mut RequestCtx, h: &Handler, cache: bool) -> Outcome {
    // SAFETY: new thread anchored in the registry until released.
    unsafe {
        let L = ctx.vm().state();
        ctx.release_co();
        ctx.exit_code = None;
        ctx.waiting = false;
        ctx.phase = h.phase;
        let co = lua_newthread(L);
        ctx.co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        ctx.co = co;
        if let Err(e) = h.push(co, ctx.r, cache) {
            log_error(NGX_LOG_ERR, (*(*ctx.r).connection).log, e.as_bytes());
            ctx.release_co();
            return Outcome::Error;
        }
        resume(ctx, 0)
    }
}

/// Resumes the entry coroutine with `nargs` values already on its stack.
///
/// # Safety
/// `ctx` is the live request context with a suspended coroutine.
pub unsafe fn resume(ctx: &mut RequestCtx, nargs: c_int) -> Outcome {
    let co = ctx.co;
    let rc = {
        let _cur = Enter::new(ctx, ctx.phase);
        // SAFETY: co is a suspended (or fresh) coroutine of our VM.
        unsafe { lua_resume_(co, nargs) }
    };
    // SAFETY: co stays anchored until release_co below.
    unsafe {
        match rc {
            0 => {
                ctx.release_co();
                match ctx.exit_code {
                    Some(c) => Outcome::Exit(c),
                    None => Outcome::Done,
                }
            }
            LUA_YIELD => {
                lua_settop(co, 0);
                if let Some(c) = ctx.exit_code {
                    ctx.release_co();
                    return Outcome::Exit(c);
                }
                if !ctx.waiting {
                    // A plain coroutine.yield() in the entry thread: give
                    // other events a turn and continue on the next loop.
                    arm_sleep(ctx, 0);
                }
                Outcome::Yielded
            }
            _ => {
                let L = ctx.vm().state();
                let msg: &[u8] = match lua_type(co, -1) {
                    LUA_TSTRING | LUA_TNUMBER => to_bytes(co, -1).unwrap_or(b""),
                    _ => b"unknown reason",
                };
                let mut line = format!("lua entry thread aborted: {}: ", err_kind(rc)).into_bytes();
                line.extend_from_slice(msg);
                luaL_traceback_(L, co, ptr::null(), 0);
                line.push(b'\n');
                line.extend_from_slice(to_bytes(L, -1).unwrap_or(b""));
                lua_pop(L, 1);
                log_error(NGX_LOG_ERR, (*(*ctx.r).connection).log, &line);
                ctx.release_co();
                Outcome::Error
            }
        }
    }
}

unsafe extern "C" fn sleep_handler(ev: *mut ngx_event_t) {
    // SAFETY: data is the RequestCtx that armed the event; its cleanup
    // deletes the timer, so the ctx is alive whenever this fires.
    unsafe {
        let ctx = &mut *((*ev).data as *mut RequestCtx);
        let c = (*ctx.r).connection;
        ctx.waiting = false;
        crate::phase::resume_entry(ctx);
        ngx_http_run_posted_requests(c);
    }
}

/// Arms the request's wake-up timer (`ngx.sleep`, yields).
pub fn arm_sleep(ctx: &mut RequestCtx, ms: ngx_msec_t) {
    // SAFETY: the event is embedded in the ctx, which outlives it (the
    // ctx cleanup deletes the timer).
    unsafe {
        let data = ctx as *mut RequestCtx as *mut core::ffi::c_void;
        let log = (*(*ctx.r).connection).log;
        let ev = &mut ctx.sleep_ev;
        if ev.timer_set() != 0 {
            ngx_del_timer(ev);
        }
        ev.handler = Some(sleep_handler);
        ev.data = data;
        ev.log = log;
        ngx_add_timer(ev, ms);
    }
    ctx.waiting = true;
}
