//! ngx.get_phase, ngx.status, ngx.ctx, ngx.log, ngx.worker.*, ngx.config.*,
//! ngx.arg (body filter).
use core::ffi::{c_int, c_uint};

use nginx_sys::*;

use super::*;
use crate::nginx::log;

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_get_phase() -> c_int {
    current().phase as c_int
}

/// Which `coroutine` API applies here: `FFI_OK`, ours (yieldable phases);
/// 1, plain Lua's (header and body filters and `init_by_lua*`, as
/// upstream); `FFI_DECLINED` with upstream's error text wherever else a
/// request (or upstream's fake one: init_worker, exit_worker) runs Lua that
/// may not yield.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_coroutine_check(err: *mut u8, errlen: *mut usize) -> c_int {
    const PLAIN: u32 = Phase::Init.bit() | Phase::HeaderFilter.bit() | Phase::BodyFilter.bit();
    let phase = current().phase;
    if crate::lua::phase::YIELDABLE & phase.bit() != 0 {
        return FFI_OK;
    }
    if PLAIN & phase.bit() != 0 {
        return 1;
    }
    // SAFETY: the caller's error buffer.
    unsafe { set_err(err, errlen, disabled(phase).as_bytes()) };
    FFI_DECLINED
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_get_status(err: *mut u8, errlen: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(REQUEST_PHASES, err, errlen);
        // SAFETY: live request.
        unsafe {
            let r = ctx.r;
            if (*r).err_status != 0 {
                (*r).err_status as c_int
            } else {
                (*r).headers_out.status as c_int
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_set_status(
    status: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(REQUEST_PHASES & !Phase::Log.bit(), err, errlen);
        let r = ctx.r;
        // SAFETY: live request.
        unsafe {
            if header_already_sent(r, "ngx.status") {
                return FFI_OK;
            }
            if !(100..=999).contains(&status) {
                set_err(err, errlen, b"invalid HTTP status code");
                return FFI_ERROR;
            }
            (*r).headers_out.status = status as ngx_uint_t;
            (*r).headers_out.status_line.len = 0;
        }
        FFI_OK
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_is_subrequest() -> c_int {
    // SAFETY: CURRENT holds a live ctx while Lua runs for it.
    match unsafe { current().ctx.as_ref() } {
        None => FFI_NO_REQ,
        Some(ctx) => unsafe { ((*ctx.r).main != ctx.r) as c_int },
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_headers_sent() -> c_int {
    // SAFETY: as above.
    match unsafe { current().ctx.as_ref() } {
        None => FFI_NO_REQ,
        Some(ctx) => unsafe { ((*ctx.r).header_sent() != 0) as c_int },
    }
}

/// The request's `ngx.ctx` slot; `*is_new` tells Lua to create the table.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_ctx_ref(is_new: *mut c_int) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: as above.
        let Some(ctx) = (unsafe { current().ctx.as_mut() }) else {
            return FFI_NO_REQ;
        };
        let mut fresh = 0;
        if ctx.ctx_ref <= 0 {
            ctx.ctx_ref = ctx.vm().ctx_ref_new();
            fresh = 1;
        }
        if !is_new.is_null() {
            // SAFETY: caller's out parameter.
            unsafe { *is_new = fresh };
        }
        ctx.ctx_ref
    })
}

/// The log that messages of the running code go to.
fn current_log() -> *mut ngx_log_t {
    // SAFETY: as above.
    match unsafe { current().ctx.as_ref() } {
        Some(ctx) => unsafe { (*(*ctx.r).connection).log },
        None => log::cycle_log(),
    }
}

/// The most verbose level the current log accepts (so Lua skips
/// formatting messages nobody will see).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_log_level() -> c_int {
    let l = current_log();
    if l.is_null() {
        return NGX_LOG_DEBUG as c_int;
    }
    // SAFETY: a live log; debug levels are bit masks above NGX_LOG_DEBUG.
    let lvl = unsafe { (*l).log_level };
    if lvl > NGX_LOG_DEBUG as ngx_uint_t {
        NGX_LOG_DEBUG as c_int
    } else {
        lvl as c_int
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_log(level: c_int, msg: *const u8, len: usize) -> c_int {
    guard(FFI_ERROR, || {
        if !(0..=NGX_LOG_DEBUG as c_int).contains(&level) {
            return FFI_ERROR;
        }
        let l = current_log();
        // SAFETY: the Lua string outlives the call.
        let bytes = unsafe { core::slice::from_raw_parts(msg, len) };
        let lvl = if level == 0 {
            NGX_LOG_STDERR
        } else {
            level as u32
        };
        // SAFETY: the current request's or the cycle's log.
        unsafe { log::log_error(lvl, l, bytes) };
        FFI_OK
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_worker_pid() -> c_int {
    // SAFETY: ngx_pid is set at process start.
    unsafe { ngx_pid as c_int }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_worker_id() -> c_int {
    // SAFETY: process globals, written before any Lua code runs.
    unsafe {
        if ngx_process as u32 != NGX_PROCESS_WORKER && ngx_process as u32 != NGX_PROCESS_SINGLE {
            return -1;
        }
        ngx_worker as c_int
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_worker_count() -> c_int {
    // SAFETY: the core module's conf of the running cycle.
    unsafe {
        let ccf = *(*ngx_cycle).conf_ctx.add(ngx_core_module.index) as *mut ngx_core_conf_t;
        if ccf.is_null() {
            return 1;
        }
        (*ccf).worker_processes as c_int
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_worker_exiting() -> c_int {
    // SAFETY: process global.
    unsafe { (ngx_exiting != 0 || ngx_quit != 0 || ngx_terminate != 0) as c_int }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_config_prefix(len: *mut usize) -> *const u8 {
    // SAFETY: the cycle's prefix string lives as long as the cycle.
    unsafe {
        let p = &(*ngx_cycle).prefix;
        *len = p.len;
        p.data
    }
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_nginx_version() -> c_uint {
    nginx_version as c_uint
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_config_debug() -> c_int {
    cfg!(ngx_lua_debug) as c_int
}

const CONFIGURE: &str = env!("NGX_LUA_CONFIGURE");

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_nginx_configure(len: *mut usize) -> *const u8 {
    // SAFETY: caller's out parameter.
    unsafe { *len = CONFIGURE.len() };
    CONFIGURE.as_ptr()
}

/// `ngx.arg[idx]` of the running `set_by_lua*`: `FFI_OK` with the value,
/// `FFI_DECLINED` for nil (out of range or empty, as upstream),
/// `FFI_ERROR` in another phase.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_set_arg_get(
    idx: c_int,
    data: *mut *const u8,
    len: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = match unsafe {
            request_in(
                Phase::Set.bit(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        } {
            Ok(c) => c,
            // FFI_DECLINED means nil here: another phase is an error.
            Err(FFI_DECLINED) => return FFI_ERROR,
            Err(rc) => return rc,
        };
        let Some(a) = usize::try_from(idx)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| ctx.phases.set_args.get(i))
        else {
            return FFI_DECLINED;
        };
        if a.len == 0 {
            return FFI_DECLINED;
        }
        // SAFETY: caller's out parameters; the value lives in the request
        // pool.
        unsafe {
            *data = a.data;
            *len = a.len;
        }
        FFI_OK
    })
}

/// `ngx.arg[1]` / `ngx.arg[2]` of the running body filter; returns the eof
/// flag or an error status.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_body_arg_get(data: *mut *const u8, len: *mut usize) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(
            Phase::BodyFilter.bit(),
            core::ptr::null_mut(),
            core::ptr::null_mut()
        );
        // SAFETY: caller's out parameters; the chunk lives in the ctx.
        unsafe {
            *data = ctx.arg.chunk.as_ptr();
            *len = ctx.arg.chunk.len();
        }
        ctx.arg.eof as c_int
    })
}

/// `ngx.arg[which] = ...` in a body filter (`which` 0 only checks the
/// phase). `FFI_NO_REQ` in `init_by_lua*`, where upstream ignores the
/// assignment; `FFI_DECLINED` with upstream's error text in other phases
/// (`init_worker_by_lua*` and `exit_worker_by_lua*` included, which run
/// with a fake request upstream).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_body_arg_set(
    which: c_int,
    data: *const u8,
    len: usize,
    eof: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let cur = current();
        if cur.ctx.is_null() && matches!(cur.phase, Phase::InitWorker | Phase::ExitWorker) {
            // SAFETY: the caller's error buffer.
            unsafe { set_err(err, errlen, disabled(cur.phase).as_bytes()) };
            return FFI_DECLINED;
        }
        let ctx = request_in!(Phase::BodyFilter.bit(), err, errlen);
        if which == 0 {
            return FFI_OK;
        }
        if which == 1 {
            ctx.arg.chunk.clear();
            if len > 0 {
                // SAFETY: the Lua string outlives the call.
                ctx.arg
                    .chunk
                    .extend_from_slice(unsafe { core::slice::from_raw_parts(data, len) });
            }
            ctx.arg.chunk_set = true;
        } else {
            ctx.arg.eof = eof != 0;
            ctx.arg.eof_set = true;
        }
        FFI_OK
    })
}
