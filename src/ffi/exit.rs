//! ngx.exit, ngx.sleep.
use core::ffi::{c_int, c_long};

use nginx_sys::*;

use super::*;
use crate::lua::sleep::sleep_running;

const EXIT_PHASES: u32 = crate::lua::phase::HANDLER_PHASES
    | Phase::HeaderFilter.bit()
    | Phase::Timer.bit()
    | Phase::SslCert.bit()
    | Phase::SslClientHello.bit()
    | Phase::SslSessFetch.bit()
    | Phase::SslSessStore.bit()
    | Phase::ProxySslCert.bit()
    | Phase::ProxySslVerify.bit()
    | Phase::Balancer.bit();

/// Statuses that end the request at once, so they may leave captures
/// running.
const ABORTS: [c_int; 4] = [
    NGX_ERROR as c_int,
    NGX_HTTP_CLOSE as c_int,
    NGX_HTTP_REQUEST_TIME_OUT as c_int,
    NGX_HTTP_CLIENT_CLOSED_REQUEST as c_int,
];

export! {
    /// Records `ngx.exit(status)`. `FFI_OK`: the Lua side must yield so the
    /// scheduler ends the handler; `FFI_DONE`: return normally (the header
    /// filter and the balancer, which run in the main thread and act on the
    /// recorded status when the chunk returns, as upstream).
    fn ngx_lua_ffi_exit(status: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        // Refused before the phase check, as upstream: NGX_AGAIN and
        // NGX_DONE would leave the request neither finished nor resumable.
        let _ = running!(u32::MAX, err);
        if status == NGX_AGAIN as c_int || status == NGX_DONE as c_int {
            err.set(b"bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE");
            return FFI_ERROR;
        }
        let ctx = running!(EXIT_PHASES, err);
        if ctx.phases.pending_captures > 0 && !ABORTS.contains(&status) {
            err.set(PENDING_SUBREQUESTS);
            return FFI_ERROR;
        }
        let mut status = status;
        let r = ctx.req();
        // Too late for another status: upstream logs the attempt and ends
        // the request as a successful one.
        if r.header_sent()
            && status >= NGX_HTTP_SPECIAL_RESPONSE as c_int
            && !ABORTS[1..].contains(&status)
        {
            if status as nginx_sys::ngx_uint_t != r.status() {
                r.log_error(
                    NGX_LOG_ERR,
                    format!(
                        "attempt to set status {status} via ngx.exit after sending out the response status {}",
                        r.status()
                    )
                    .as_bytes(),
                );
            }
            status = NGX_HTTP_OK as c_int;
        }
        ctx.exit_code = Some(status as isize);
        // Upstream's trace, which its suites grep (in TLS handlers too).
        crate::debug!(r.log_handle(), "lua exit with code {status}");
        if matches!(crate::lua::sched::current().phase, Phase::HeaderFilter | Phase::Balancer | Phase::SslSessStore
        ) {
            FFI_DONE
        } else {
            FFI_OK
        }
    }
}

const SLEEP_PHASES: u32 = crate::lua::phase::YIELDABLE;

export! {
    /// Arms the wake-up timer; the Lua side yields on `FFI_AGAIN`.
    fn ngx_lua_ffi_sleep(ms: c_long, err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let _ctx = running!(SLEEP_PHASES, err);
        if ms < 0 {
            // Upstream formats its 64-bit value with `%d`, an int: the low
            // 32 bits ("0" for NaN and huge durations).
            err.set_fmt(format_args!("invalid sleep duration \"{}\"", ms as i32));
            return FFI_ERROR;
        }
        // Synchronous handlers (no scheduled thread) are not in
        // SLEEP_PHASES, but a thread must be running to be woken.
        if !sleep_running(ms as ngx_msec_t) {
            err.set(b"no co ctx found");
            return FFI_ERROR;
        }
        FFI_AGAIN
    }
}
