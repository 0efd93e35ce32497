//! ngx.exit, ngx.sleep.
use core::ffi::{c_int, c_long};

use nginx_sys::*;

use super::*;
use crate::lua::sched::arm_sleep;

const EXIT_PHASES: u32 = crate::lua::phase::HANDLER_PHASES
    | Phase::HeaderFilter.bit()
    | Phase::Timer.bit()
    | Phase::Balancer.bit();

/// Records `ngx.exit(status)`. `FFI_OK`: the Lua side must yield so the
/// scheduler ends the handler; `FFI_DONE`: return normally (the header
/// filter and the balancer, which run in the main thread and act on the
/// recorded status when the chunk returns, as upstream).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_exit(
    status: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(EXIT_PHASES, err, errlen);
        let phase = current().phase;
        let aborts = [
            NGX_ERROR as c_int,
            NGX_HTTP_CLOSE as c_int,
            NGX_HTTP_REQUEST_TIME_OUT as c_int,
            NGX_HTTP_CLIENT_CLOSED_REQUEST as c_int,
        ];
        if ctx.phases.pending_captures > 0 && !aborts.contains(&status) {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, PENDING_SUBREQUESTS) };
            return FFI_ERROR;
        }
        ctx.exit_code = Some(status as isize);
        if matches!(phase, Phase::HeaderFilter | Phase::Balancer) {
            FFI_DONE
        } else {
            FFI_OK
        }
    })
}

const SLEEP_PHASES: u32 = crate::lua::phase::YIELDABLE;

/// Arms the wake-up timer; the Lua side yields on `FFI_AGAIN`.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_sleep(ms: c_long, err: *mut u8, errlen: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(SLEEP_PHASES, err, errlen);
        if ms < 0 {
            // SAFETY: the caller's error buffer.
            unsafe {
                set_err(
                    err,
                    errlen,
                    // Upstream formats its 64-bit value with `%d`, an int:
                    // the low 32 bits ("0" for NaN and huge durations).
                    format!("invalid sleep duration \"{}\"", ms as i32).as_bytes(),
                )
            };
            return FFI_ERROR;
        }
        let _ = ctx;
        // SAFETY: CURRENT.co is the running scheduled thread (null in
        // synchronous handlers, which SLEEP_PHASES excludes).
        let Some(t) = (unsafe { current().co.as_mut() }) else {
            unsafe { set_err(err, errlen, b"no co ctx found") };
            return FFI_ERROR;
        };
        arm_sleep(t, ms as nginx_sys::ngx_msec_t);
        FFI_AGAIN
    })
}
