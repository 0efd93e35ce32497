//! ngx.timer.at / every / running_count / pending_count.
use core::ffi::c_int;

use nginx_sys::ngx_msec_t;

use super::*;
use crate::nginx::conf::HttpConfs;
use crate::nginx::cycle::Cycle;
use crate::timer;

export! {
    /// Arms timer `id` (its callback is already in the Lua timers table).
    fn ngx_lua_ffi_timer_add(
        id: f64,
        delay_ms: f64,
        every_ms: f64,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        // The configuration of the code that creates the timer: its
        // request's, or the http block's in init_worker_by_lua*.
        let cur = current();
        let confs = match cur.lua_ctx() {
            Some(ctx) => Some(HttpConfs::of_request(ctx.req())),
            None if cur.phase == Phase::InitWorker => HttpConfs::of_cycle(Cycle::current()),
            None => None,
        };
        let Some(confs) = confs else {
            err.set(b"no request");
            return FFI_NO_REQ;
        };
        match timer::add(id, delay_ms as ngx_msec_t, every_ms as ngx_msec_t, confs) {
            Ok(()) => FFI_OK,
            Err(e) => {
                err.set(e.as_bytes());
                FFI_DECLINED
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_timer_count(running: c_int) -> c_int {
        if running != 0 {
            timer::running_count() as c_int
        } else {
            timer::pending_count() as c_int
        }
    }
}
