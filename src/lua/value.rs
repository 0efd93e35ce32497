//! Running a handler chunk for one value (`set_by_lua*`): in the main
//! thread, with string arguments, its first result read as a string.
use core::ffi::c_int;

use nginx_sys::ngx_str_t;

use super::ctx::LuaCtx;
use super::handler::Handler;
use super::phase::Phase;
use super::raw::*;
use super::sched::Enter;
use super::vm::pcall_n;

/// Why the chunk gave no value.
pub enum CallError {
    /// It could not be loaded (the message is complete).
    Load(String),
    /// It raised an error (the message with its traceback).
    Run(String),
}

/// Runs `h` for request context `ctx` under phase `Set` with `args` (nginx
/// strings that live while it runs) and hands its first result to `out`:
/// the string (numbers as Lua formats them), or empty for nil, booleans
/// and tables, as upstream.
pub fn call_for_value<T>(
    ctx: &mut LuaCtx,
    h: &Handler,
    cache: bool,
    args: &[ngx_str_t],
    out: impl FnOnce(&[u8]) -> T,
) -> Result<T, CallError> {
    let L = ctx.vm().state();
    let r = ctx.r;
    let vm = ctx.vm;
    let env = if cache { None } else { ctx.fresh_env() };
    let ctxp: *mut LuaCtx = ctx;
    let _cur = Enter::new(ctxp, Phase::Set);
    super::observe::note(ctxp, Phase::Set, super::observe::Event::Run);
    let step = super::observe::step();
    // SAFETY: the cycle's main state, with the stack restored to `top`
    // before returning; r is the live request of ctx; the VM lives in the
    // main conf, which outlives requests; the arguments point at len bytes
    // each.
    unsafe {
        let top = lua_gettop(L);
        let res = match h.push_in(&mut *vm, L, r, cache) {
            Err(e) => Err(CallError::Load(e.msg)),
            Ok(()) => {
                if let Some(env) = env {
                    super::sched::set_fresh_env(L, env, false);
                }
                for a in args {
                    lua_pushlstring(L, a.data as *const _, a.len);
                }
                pcall_n(L, args.len() as c_int, 1)
                    .map_err(CallError::Run)
                    .map(|()| out(to_value(L)))
            }
        };
        lua_settop(L, top);
        step.end(ctxp, Phase::Set);
        if res.is_err() {
            super::observe::note(ctxp, Phase::Set, super::observe::Event::Error);
        }
        res
    }
}

/// The string at the top of `L` (empty unless a string or number).
///
/// # Safety
/// `L` is a live state with a value on top.
unsafe fn to_value<'a>(L: *mut lua_State) -> &'a [u8] {
    let mut len = 0usize;
    // SAFETY: see above; lua_tolstring converts numbers in place and gives
    // null for other types.
    unsafe {
        let p = lua_tolstring(L, -1, &mut len);
        if p.is_null() || len == 0 {
            &[]
        } else {
            core::slice::from_raw_parts(p as *const u8, len)
        }
    }
}
