//! ngx.log and print.
use core::ffi::c_int;

use nginx_sys::{NGX_LOG_DEBUG, NGX_LOG_STDERR};

use super::{FFI_ERROR, FFI_OK};
use crate::lua::phase::Phase;
use crate::lua::sched::current;
use crate::nginx::log;

/// The log that messages of the running code go to.
fn current_log() -> log::Log {
    match current().lua_ctx() {
        Some(ctx) => ctx.req().log_handle(),
        None => log::Log::cycle(),
    }
}

export! {
    /// The most verbose level the current log accepts (so Lua skips
    /// formatting messages nobody will see).
    fn ngx_lua_ffi_log_level() -> c_int {
        current_log().level().min(NGX_LOG_DEBUG) as c_int
    }
}

export! {
    fn ngx_lua_ffi_log(level: c_int, msg: *const u8, len: usize) -> c_int {
        if !(0..=NGX_LOG_DEBUG as c_int).contains(&level) {
            return FFI_ERROR;
        }
        let lvl = if level == 0 { NGX_LOG_STDERR } else { level as u32 };
        let cur = current();
        match cur.lua_ctx() {
            Some(ctx) => ctx.req().log_handle().write(lvl, lua_bytes!(msg, len)),
            // Upstream's init_worker_by_lua* runs in a fake request whose
            // log lines end with the context.
            None if cur.phase == Phase::InitWorker => crate::nginx::log_context::write_in_context(
                log::Log::cycle(),
                lvl,
                lua_bytes!(msg, len),
                c", context: init_worker_by_lua*",
            ),
            None => log::Log::cycle().write(lvl, lua_bytes!(msg, len)),
        }
        FFI_OK
    }
}
