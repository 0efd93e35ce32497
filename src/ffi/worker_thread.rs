//! ngx.run_worker_thread: `lua_CFunction`s, because arguments and results
//! are Lua values copied between the caller's VM and a worker thread's.
//! lua-lib checks the phase first (`ngx_lua_ffi_worker_thread_check`),
//! so these raise no Lua error.
use core::ffi::c_int;

use super::*;
use crate::lua::phase::YIELDABLE;
use crate::lua::raw::*;

pub const CFUNCS: &[(&core::ffi::CStr, lua_CFunction)] = &[(c"run", run), (c"result", result)];

export! {
    /// Whether ngx.run_worker_thread may run here: `FFI_OK`, or the
    /// refusal with upstream's text.
    fn ngx_lua_ffi_worker_thread_check(err: *mut u8, errlen: *mut usize) -> c_int {
        let mut err = err_out!(err, errlen);
        let phase = crate::lua::sched::current().phase;
        match running(YIELDABLE, &mut ErrOut::none()) {
            Ok(_) => FFI_OK,
            // upstream runs these with a fake request: a context refusal
            Err(FFI_NO_REQ) if !phase.worker_hook() => {
                err.set(b"no request found");
                FFI_NO_REQ
            }
            Err(_) => {
                err.set(disabled(phase).as_bytes());
                FFI_DECLINED
            }
        }
    }
}

/// Pushes `false, msg`: the failure results.
unsafe fn fail(L: *mut lua_State, msg: &[u8]) -> c_int {
    // SAFETY: a valid state with room for two values.
    unsafe {
        lua_pushboolean(L, 0);
        push_bytes(L, msg);
    }
    2
}

/// `run(pool, module, function, ...)`: `false, err` when the call cannot
/// start; otherwise a light userdata for `result`, after the caller waited.
unsafe extern "C-unwind" fn run(L: *mut lua_State) -> c_int {
    guard(0, || {
        // SAFETY: a lua_CFunction's state; see start().
        unsafe { start(L) }
    })
}

#[cfg(not(ngx_lua_threads))]
unsafe fn start(L: *mut lua_State) -> c_int {
    // SAFETY: the caller's state.
    unsafe {
        fail(
            L,
            b"ngx.run_worker_thread needs an nginx built with threads (--with-threads)",
        )
    }
}

#[cfg(ngx_lua_threads)]
unsafe fn start(L: *mut lua_State) -> c_int {
    use crate::worker_thread::{self as wt, PostError, VmSpec};
    // SAFETY: argument indices are checked against the stack size; the
    // worker VM is ours until posted.
    unsafe {
        let n = lua_gettop(L);
        if n < 3 {
            return fail(L, b"expecting at least 3 arguments");
        }
        let Some(pool_name) = to_bytes(L, 1) else {
            return fail(L, b"threadpool should be a string");
        };
        let Some(tp) = crate::nginx::thread_pool::find(pool_name) else {
            let msg = [b"thread pool ", pool_name, b" not found"].concat();
            return fail(L, &msg);
        };
        let Some(module) = to_bytes(L, 2) else {
            return fail(L, b"module name should be a string");
        };
        let Some(func) = to_bytes(L, 3) else {
            return fail(L, b"function name should be a string");
        };
        let Ok(ctx) = running(YIELDABLE, &mut ErrOut::none()) else {
            return fail(L, b"no request found");
        };
        let Some(me) = crate::lua::sched::current().co.as_mut() else {
            return fail(L, b"no co ctx found");
        };
        let mcf = &*ctx.req().main_conf::<crate::conf::MainConf>();
        let prefix = {
            let p = &(*nginx_sys::ngx_cycle).prefix;
            core::slice::from_raw_parts(p.data, p.len)
        };
        let spec = VmSpec {
            path: mcf.package_path.as_deref(),
            cpath: mcf.package_cpath.as_deref(),
            prefix,
            preload: &[],
            max: mcf
                .worker_thread_vm_pool_size
                .map_or(wt::DEFAULT_POOL_SIZE, |n| n as usize),
        };
        let Some(vm) = wt::take_vm(&spec) else {
            return fail(L, b"no available Lua vm");
        };
        let T = vm.state();
        lua_getglobal(T, c"require".as_ptr());
        push_bytes(T, module);
        if lua_pcall(T, 1, 1, 0) != 0 {
            let msg = to_bytes(T, -1).unwrap_or(b"unknown error").to_vec();
            wt::give_vm(vm);
            return fail(L, &msg);
        }
        if lua_type(T, -1) != LUA_TTABLE {
            wt::give_vm(vm);
            return fail(L, b"invalid lua module");
        }
        push_bytes(T, func);
        lua_gettable(T, -2);
        if lua_type(T, -1) != LUA_TFUNCTION {
            wt::give_vm(vm);
            return fail(L, b"invalid function");
        }
        lua_remove(T, 1);
        lua_checkstack(T, n);
        for i in 4..=n {
            if let Err(e) = wt::xcopy(L, T, i, true, 1) {
                wt::give_vm(vm);
                return fail(L, format!("{e} in the argument").as_bytes());
            }
        }
        match wt::post(tp, vm, n - 3, me) {
            Ok(job) => {
                lua_pushlightuserdata(L, job as *mut core::ffi::c_void);
                1
            }
            Err(PostError::Queue(vm)) => {
                wt::give_vm(vm);
                fail(L, b"ngx_thread_task_post failed")
            }
        }
    }
}

/// `result(job)` after the wait: `true, ...` or `false, err`.
unsafe extern "C-unwind" fn result(L: *mut lua_State) -> c_int {
    guard(0, || {
        // SAFETY: lua-lib passes the light userdata run() returned, once,
        // after the job completed.
        unsafe {
            #[cfg(ngx_lua_threads)]
            {
                let job = lua_touserdata(L, 1) as *mut crate::worker_thread::Job;
                if job.is_null() {
                    return fail(L, b"no job");
                }
                crate::worker_thread::collect(job, L)
            }
            #[cfg(not(ngx_lua_threads))]
            fail(L, b"no job")
        }
    })
}
