//! ngx.timer.at / ngx.timer.every: callbacks run in their own entry thread
//! on a fake request, with `premature` set when the worker shuts down.
use core::ffi::{c_int, c_void};
use core::ptr;

use nginx_sys::*;

use crate::conf::MainConf;
use crate::http::RequestCtx;
use crate::lua::ctx::LuaCtx;
use crate::lua::phase::Phase;
use crate::lua::raw::*;
use crate::lua::sched::{self, Outcome};
use crate::nginx::{fake, log};

/// Registry field of the Lua function that runs a timer callback by id.
pub const TIMER_RUN: &core::ffi::CStr = c"ngx_lua_timer_run";
/// Registry field of the callbacks table (id -> function and arguments).
pub const TIMERS: &core::ffi::CStr = c"ngx_lua_timers";

struct Timer {
    ev: ngx_event_t,
    id: f64,
    every: ngx_msec_t,
    main_conf: *mut *mut c_void,
    srv_conf: *mut *mut c_void,
    loc_conf: *mut *mut c_void,
    premature: bool,
}

#[derive(Default)]
struct State {
    pending: Vec<*mut Timer>,
    running: usize,
    /// An idle fake connection: nginx "closes" idle connections when it
    /// starts a graceful shutdown, which is our cue to run pending timers
    /// prematurely.
    watcher: *mut ngx_connection_t,
}

struct StateCell(core::cell::UnsafeCell<Option<State>>);
// SAFETY: only nginx's single event-loop thread uses it.
unsafe impl Sync for StateCell {}
static STATE: StateCell = StateCell(core::cell::UnsafeCell::new(None));

fn state() -> &'static mut State {
    // SAFETY: single-threaded worker; callers do not hold two borrows
    // across calls that re-enter this module.
    unsafe { (*STATE.0.get()).get_or_insert_with(State::default) }
}

pub fn pending_count() -> usize {
    state().pending.len()
}

pub fn running_count() -> usize {
    state().running
}

fn exiting() -> bool {
    // SAFETY: process globals.
    unsafe { ngx_exiting != 0 || ngx_quit != 0 || ngx_terminate != 0 }
}

unsafe fn main_conf_of(main_conf: *mut *mut c_void) -> &'static mut MainConf {
    // SAFETY: the http main conf array of the running cycle.
    unsafe { &mut *(*main_conf.add(crate::nginx::module::ctx_index()) as *mut MainConf) }
}

/// Creates a timer for callback `id`. Errors are upstream's texts.
///
/// # Safety
/// The conf arrays belong to the running cycle's http block.
pub unsafe fn add(
    id: f64,
    delay: ngx_msec_t,
    every: ngx_msec_t,
    main_conf: *mut *mut c_void,
    srv_conf: *mut *mut c_void,
    loc_conf: *mut *mut c_void,
) -> Result<(), &'static str> {
    if exiting() {
        return Err("process exiting");
    }
    // SAFETY: conf arrays of the running cycle.
    let mcf = unsafe { main_conf_of(main_conf) };
    let st = state();
    if st.pending.len() >= mcf.max_pending_timers {
        return Err("too many pending timers");
    }
    if st.watcher.is_null() {
        // SAFETY: worker process; see fake::connection.
        unsafe {
            let c = fake::connection();
            if c.is_null() {
                return Err("no memory");
            }
            // fd -1 would exclude it from ngx_close_idle_connections.
            (*c).fd = -2;
            (*c).set_idle(1);
            (*(*c).read).handler = Some(abort_pending);
            st.watcher = c;
        }
    }
    let t = Box::into_raw(Box::new(Timer {
        // SAFETY: an all-zero event is nginx's "unarmed" event.
        ev: unsafe { core::mem::zeroed() },
        id,
        every,
        main_conf,
        srv_conf,
        loc_conf,
        premature: false,
    }));
    // SAFETY: the event lives in the leaked box until the handler takes it
    // back.
    unsafe {
        (*t).ev.handler = Some(fire);
        (*t).ev.data = t as *mut c_void;
        (*t).ev.log = log::cycle_log();
        ngx_add_timer(&mut (*t).ev, delay);
    }
    st.pending.push(t);
    Ok(())
}

unsafe extern "C" fn fire(ev: *mut ngx_event_t) {
    // SAFETY: data is the Timer box leaked in add().
    unsafe {
        let t = Box::from_raw((*ev).data as *mut Timer);
        let st = state();
        st.pending.retain(|&p| !core::ptr::eq(p, &*t));
        run(*t);
    }
}

/// Drops a callback from the Lua table when its timer will never run.
unsafe fn forget(L: *mut lua_State, id: f64) {
    // SAFETY: balanced stack on the main state.
    unsafe {
        lua_getfield(L, LUA_REGISTRYINDEX, TIMERS.as_ptr());
        if lua_type(L, -1) == LUA_TTABLE {
            lua_pushnumber(L, id);
            lua_pushnil(L);
            lua_rawset(L, -3);
        }
        lua_pop(L, 1);
    }
}

unsafe fn run(t: Timer) {
    // SAFETY: the conf arrays and the VM belong to the running cycle.
    unsafe {
        let mcf = main_conf_of(t.main_conf);
        let Some(vm) = mcf.vm.as_ref() else {
            return;
        };
        let L = vm.state();
        let st = state();
        if t.every > 0 && !t.premature && !exiting() {
            if let Err(e) = add(t.id, t.every, t.every, t.main_conf, t.srv_conf, t.loc_conf) {
                log::log_error(
                    NGX_LOG_ALERT,
                    log::cycle_log(),
                    format!(
                        "failed to create the next timer of delay {} ms: {e}",
                        t.every
                    )
                    .as_bytes(),
                );
            }
        }
        if st.running >= mcf.max_running_timers {
            log::log_error(
                NGX_LOG_ALERT,
                log::cycle_log(),
                format!(
                    "{} lua_max_running_timers are not enough",
                    mcf.max_running_timers
                )
                .as_bytes(),
            );
            forget(L, t.id);
            return;
        }
        let c = fake::connection();
        if c.is_null() {
            forget(L, t.id);
            return;
        }
        let r = fake::request(c, t.main_conf, t.srv_conf, t.loc_conf);
        let ctx = if r.is_null() {
            None
        } else {
            RequestCtx::get_or_create(r)
        };
        let Some(ctx) = ctx else {
            fake::close_connection(c);
            forget(L, t.id);
            return;
        };
        st.running += 1;
        let (id, premature, every) = (t.id, t.premature, t.every > 0);
        let outcome = sched::start_with(ctx, Phase::Timer, after_resume, |co| {
            lua_getfield(co, LUA_REGISTRYINDEX, TIMER_RUN.as_ptr());
            lua_pushnumber(co, id);
            lua_pushboolean(co, premature as c_int);
            lua_pushboolean(co, every as c_int);
            Ok(3)
        });
        after_resume(ctx, outcome);
    }
}

/// Ends the timer's fake request once its threads are done.
pub fn after_resume(ctx: &mut LuaCtx, outcome: Outcome) {
    if outcome == Outcome::Yielded {
        return;
    }
    let st = state();
    st.running = st.running.saturating_sub(1);
    // SAFETY: the fake request's connection; closing it destroys the pool,
    // whose cleanup frees ctx: nothing touches ctx afterwards.
    unsafe { fake::close_connection((*ctx.r).connection) };
}

unsafe extern "C" fn abort_pending(ev: *mut ngx_event_t) {
    // SAFETY: the watcher's read event; nginx sets `close` when it shuts
    // down gracefully.
    unsafe {
        let c = (*ev).data as *mut ngx_connection_t;
        if (*c).close() == 0 {
            return;
        }
        let st = state();
        st.watcher = ptr::null_mut();
        (*c).fd = -1;
        fake::close_connection(c);
        let pending = core::mem::take(&mut st.pending);
        for p in pending {
            let mut t = Box::from_raw(p);
            if t.ev.timer_set() != 0 {
                ngx_del_timer(&mut t.ev);
            }
            t.premature = true;
            run(*t);
        }
    }
}
