//! ngx.timer.at / every / running_count / pending_count.
use core::ffi::c_int;

use nginx_sys::ngx_msec_t;

use super::*;
use crate::lua::cfunction::{Raise, State};
use crate::nginx::conf::HttpConfs;
use crate::nginx::cycle::Cycle;
use crate::nginx::fake::Origin;
use crate::nginx::global::Global;
use crate::timer;

/// The longest delay nginx's timer tree orders correctly: it compares a
/// key with the clock by their signed difference, so a key pushed 2^63 ms
/// or more ahead (what `math.huge` or 2^53 s become) counts as past and
/// the timer fires at once; for ngx.timer.every, again and again.
const MAX_DELAY_MS: f64 = (1u64 << 62) as f64;

/// A delay in ms from Lua as a timer offset (NaN as 0).
fn delay(ms: f64) -> ngx_msec_t {
    // NaN compares false: 0, as a negative delay.
    if ms > 0.0 {
        ms.min(MAX_DELAY_MS) as ngx_msec_t
    } else {
        0
    }
}

/// Arms timer `id` (its callback is already in the Lua timers table):
/// `FFI_OK`, `FFI_NO_REQ` (raised) or `FFI_DECLINED` with the reason.
fn timer_add(id: f64, delay_ms: f64, every_ms: f64, err: &mut ErrOut) -> c_int {
    // The configuration of the code that creates the timer: its
    // request's, or the http block's in init_worker_by_lua*.
    let cur = current();
    let (confs, origin) = match cur.lua_ctx() {
        Some(ctx) => (
            Some(HttpConfs::of_request(ctx.req())),
            Origin::of(ctx.req()),
        ),
        None if cur.phase == Phase::InitWorker => {
            (HttpConfs::of_cycle(Cycle::current()), Origin::NONE)
        }
        None => (None, Origin::NONE),
    };
    let Some(confs) = confs else {
        err.set(b"no request");
        return FFI_NO_REQ;
    };
    // A NaN period would become 0, a one-shot timer (or, if it stayed a
    // period, a busy loop); the Lua side's "< 1 ms" check lets NaN
    // through.
    if every_ms.is_nan() {
        err.set(b"delay cannot be zero");
        return FFI_DECLINED;
    }
    match timer::add(id, delay(delay_ms), delay(every_ms), confs, &origin) {
        Ok(()) => FFI_OK,
        Err(e) => {
            err.set(e.as_bytes());
            FFI_DECLINED
        }
    }
}

/// The id of the last timer created (the key of its callback in the
/// registry's timers table).
static LAST_ID: Global<f64> = Global::new(0.0);

/// 2^63: milliseconds at or beyond it do not fit nginx's timer arithmetic.
const MSEC_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// `error(msg, 0)`: upstream raises the timer API's errors without a
/// position.
fn plain(L: State, msg: String) -> Raise {
    L.push_str(msg.as_bytes());
    Raise::Value
}

/// `ngx.timer.at(delay, fn, ...)` and `ngx.timer.every`: keeps the
/// callback and its arguments in the registry's timers table and arms the
/// timer; 1, or nil and the reason. A C function: handler chunks call it
/// through the interpreter, which ran the Lua version's argument checks
/// and varargs and the FFI call's conversions instruction by instruction.
fn start(L: State, every: bool) -> Result<c_int, Raise> {
    let name = if every { "every" } else { "at" };
    let n = L.top();
    if n < 2 {
        return Err(plain(
            L,
            format!("expecting at least 2 arguments but got {n}"),
        ));
    }
    let Some(d) = L.tonumber_at(1) else {
        let ty = L.type_name(1).to_string_lossy();
        return Err(plain(
            L,
            format!("bad argument #1 to '{name}' (number expected, got {ty})"),
        ));
    };
    // NaN would make an `every` timer that fires on every loop turn.
    if d.is_nan() {
        return Err(plain(
            L,
            format!("bad argument #1 to '{name}' (delay must not be NaN)"),
        ));
    }
    if d < 0.0 {
        return Err(plain(
            L,
            format!("bad argument #1 to '{name}' (delay must not be negative)"),
        ));
    }
    // Upstream's conversion to ngx_msec_t turns milliseconds beyond its
    // range (math.huge, 1e300) into 0: `every` refuses them below, `at`
    // fires at once. Passed on, they would wrap nginx's timer key.
    let mut ms = d * 1000.0;
    if ms >= MSEC_LIMIT {
        ms = 0.0;
    }
    if every && ms < 1.0 {
        return Err(plain(L, "delay cannot be zero".into()));
    }
    if L.type_of(2) != crate::lua::raw::LUA_TFUNCTION {
        return Err(plain(
            L,
            format!("bad argument #2 to '{name}' (Lua function expected)"),
        ));
    }
    let id = LAST_ID.get() + 1.0;
    LAST_ID.set(id);
    // The callbacks table through the VM's ref of it when a request runs
    // this (init_worker_by_lua* has no request context: the fixed slot).
    let timers = match current().lua_ctx() {
        Some(ctx) => ctx.vm().slot_key(timer::TIMERS),
        None => timer::TIMERS,
    };
    if !L.registry_table_set_record(timers, id, 2, n) {
        return Err(plain(L, "no timers table".into()));
    }
    let mut e = ErrBuf::new();
    match e.run(|err| timer_add(id, ms, if every { ms } else { 0.0 }, err)) {
        FFI_OK => {
            // 1, not true: upstream's C function pushes an integer.
            L.push_int(1);
            Ok(1)
        }
        rc => {
            L.registry_table_unset(timers, id);
            if rc == FFI_NO_REQ {
                return Err(plain(L, String::from_utf8_lossy(e.text()).into_owned()));
            }
            L.push_nil();
            L.push_str(e.text());
            Ok(2)
        }
    }
}

cfunction! {
    fn at(L) { start(L, false) }
}

cfunction! {
    /// `install(callbacks, run)`: lua-lib's timers table and the function
    /// that runs a callback by id, into their registry slots.
    fn install(L) {
        L.set_registry(timer::TIMERS, 1);
        L.set_registry(timer::TIMER_RUN, 2);
        Ok(0)
    }
}

cfunction! {
    fn every(L) { start(L, true) }
}

/// Installed into `package.loaded["ngx_lua.timer"]` for lua-lib.
pub const CFUNCS: &[(&core::ffi::CStr, crate::lua::raw::lua_CFunction)] =
    &[(c"at", at), (c"every", every), (c"install", install)];

export! {
    fn ngx_lua_ffi_timer_count(running: c_int) -> c_int {
        if running != 0 {
            timer::running_count() as c_int
        } else {
            timer::pending_count() as c_int
        }
    }
}
