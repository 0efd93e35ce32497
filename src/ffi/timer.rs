//! ngx.timer.at / every / running_count / pending_count.
use core::ffi::{c_int, c_void};

use nginx_sys::*;

use super::*;
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

/// Arms timer `id` (its callback is already in the Lua timers table).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_timer_add(
    id: f64,
    delay_ms: f64,
    every_ms: f64,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let cur = current();
        // SAFETY: the conf arrays of the current request, or of the http
        // block of the running cycle (init_worker_by_lua).
        let confs: Option<(*mut *mut c_void, *mut *mut c_void, *mut *mut c_void)> = unsafe {
            match cur.ctx.as_ref() {
                Some(ctx) => {
                    let r = ctx.r;
                    Some(((*r).main_conf, (*r).srv_conf, (*r).loc_conf))
                }
                None if cur.phase == Phase::InitWorker => {
                    let cycle = ngx_cycle as *mut ngx_cycle_t;
                    let http =
                        *(*cycle).conf_ctx.add(ngx_http_module.index) as *mut ngx_http_conf_ctx_t;
                    (!http.is_null())
                        .then(|| ((*http).main_conf, (*http).srv_conf, (*http).loc_conf))
                }
                None => None,
            }
        };
        let Some((m, s, l)) = confs else {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, b"no request") };
            return FFI_NO_REQ;
        };
        // A NaN period would become 0, a one-shot timer (or, if it
        // stayed a period, a busy loop); the Lua side's "< 1 ms" check
        // lets NaN through.
        if every_ms.is_nan() {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, b"delay cannot be zero") };
            return FFI_DECLINED;
        }
        // SAFETY: conf arrays of the running cycle.
        match unsafe { timer::add(id, delay(delay_ms), delay(every_ms), m, s, l) } {
            Ok(()) => FFI_OK,
            Err(e) => {
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, e.as_bytes()) };
                FFI_DECLINED
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_timer_count(running: c_int) -> c_int {
    if running != 0 {
        timer::running_count() as c_int
    } else {
        timer::pending_count() as c_int
    }
}
