//! ngx.timer.at / every / running_count / pending_count.
use core::ffi::c_int;

use nginx_sys::ngx_msec_t;

use super::*;
use crate::nginx::conf::HttpConfs;
use crate::nginx::cycle::Cycle;
use crate::nginx::fake::Origin;
use crate::timer;

/// The longest delay nginx's timer tree orders correctly: it compares a
/// key with the clock by their signed difference, so a key pushed 2^63 ms
/// or more ahead (what `math.huge` or 2^53 s become) counts as past and
/// the timer fires at once; for ngx.timer.every, again and again.
const MAX_DELAY_MS: f64 = (1u64 << 62) as f64;

/// A delay in ms from Lua as a timer offset (NaN as 0).
fn delay(ms: f64) -> ngx_msec_t {
    if ms.is_nan() {
        0
    } else {
        ms.clamp(0.0, MAX_DELAY_MS) as ngx_msec_t
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

cfunction! {
    /// `add(id, delay_ms, every_ms)`: true, or nil and the reason, and
    /// true when the reason is to be raised (outside a request and
    /// init_worker_by_lua*: lua-lib forgets the callback first). A C
    /// function: handler chunks call it through the interpreter, whose FFI
    /// calls convert every argument.
    fn add(L) {
        let (id, delay_ms, every_ms) = (L.to_number(1), L.to_number(2), L.to_number(3));
        let mut e = ErrBuf::new();
        match e.run(|err| timer_add(id, delay_ms, every_ms, err)) {
            FFI_OK => {
                L.push_bool(true);
                Ok(1)
            }
            rc => {
                L.push_nil();
                L.push_str(e.text());
                L.push_bool(rc == FFI_NO_REQ);
                Ok(3)
            }
        }
    }
}

/// Installed into `package.loaded["ngx_lua.timer"]` for lua-lib.
pub const CFUNCS: &[(&core::ffi::CStr, crate::lua::raw::lua_CFunction)] = &[(c"add", add)];

export! {
    fn ngx_lua_ffi_timer_count(running: c_int) -> c_int {
        if running != 0 {
            timer::running_count() as c_int
        } else {
            timer::pending_count() as c_int
        }
    }
}
