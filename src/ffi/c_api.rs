//! The public C API other nginx modules link against: the functions of
//! upstream's `ngx_http_lua_api.h`, with its names, signatures and
//! results, so a module built against that header loads beside ours.
//!
//! Their callers are C modules, not lua-lib; the contract of their
//! pointers is the header's (configuration objects nginx passes the
//! caller, NUL-terminated package names, key and name buffers of the
//! lengths given beside them, a value record the caller owns).
//!
//! The coroutine-context functions hand out our own thread records
//! (`CoCtx`) as the opaque `ngx_http_lua_co_ctx_t *`: a module's Lua C
//! function registers a cleanup and yields (`lua_yield`), and its event
//! later pushes results onto the thread and resumes it with
//! `ngx_http_lua_co_ctx_resume_helper`, as with upstream.
use core::ffi::{c_char, c_int, c_void, CStr};
use core::ptr;

use nginx_sys::{
    ngx_conf_t, ngx_http_request_t, ngx_int_t, ngx_shm_zone_t, ngx_str_t, NGX_DECLINED, NGX_DONE,
    NGX_ERROR, NGX_LOG_ERR, NGX_OK,
};

use crate::conf::{LocConf, MainConf};
use crate::lua::ctx::{CoCtx, WaitKind};
use crate::lua::raw::{lua_CFunction, lua_State};
use crate::lua::sched::{current, resume_from_event_with};
use crate::nginx::conf::Conf;
use crate::nginx::cycle::Cycle;
use crate::nginx::request::Request;
use crate::shdict::store::{T_BOOLEAN, T_NUMBER, T_STRING};
use crate::shdict::{foreign, zone};

/// `ngx_http_lua_value_t`: a shared dict value as the C API hands it out.
#[repr(C)]
pub struct LuaValue {
    pub vtype: u8,
    pub value: LuaValueUnion,
}

#[repr(C)]
pub union LuaValueUnion {
    pub b: c_int,
    pub n: f64,
    pub s: ngx_str_t,
}

const OK: ngx_int_t = NGX_OK as ngx_int_t;
const ERROR: ngx_int_t = NGX_ERROR as ngx_int_t;

/// The configuration object nginx passed the calling module.
fn conf_of(cf: *mut ngx_conf_t) -> Option<Conf> {
    if cf.is_null() {
        return None;
    }
    // SAFETY: the header's contract: the ngx_conf_t nginx handed the
    // caller, inside the http block being parsed.
    Some(unsafe { Conf::from_raw(cf) })
}

export! {
    /// The cycle's Lua VM (null before this module's postconfiguration
    /// built it).
    fn ngx_http_lua_get_global_state(cf: *mut ngx_conf_t) -> *mut lua_State {
        conf_of(cf)
            .and_then(MainConf::of_conf)
            .and_then(|m| m.vm.as_ref())
            .map_or(ptr::null_mut(), |vm| vm.state())
    }
}

export! {
    /// The request whose Lua code runs (null outside one).
    fn ngx_http_lua_get_request(_l: *mut lua_State) -> *mut ngx_http_request_t {
        current().lua_ctx().map_or(ptr::null_mut(), |c| c.r)
    }
}

export! {
    /// `package.preload[package] = func` in the cycle's VM, now if it
    /// exists, else when it is built.
    fn ngx_http_lua_add_package_preload(
        cf: *mut ngx_conf_t,
        package: *const c_char,
        func: lua_CFunction,
    ) -> ngx_int_t {
        let Some(mcf) = conf_of(cf).and_then(MainConf::of_conf) else {
            return ERROR;
        };
        if package.is_null() {
            return ERROR;
        }
        // SAFETY: the header's contract: a NUL-terminated package name.
        let name = unsafe { CStr::from_ptr(package) }.to_owned();
        if let Some(vm) = mcf.vm.as_ref() {
            vm.set_preload(&name, func);
        }
        mcf.preload_hooks.push((name, func));
        OK
    }
}

export! {
    /// Declares a shared memory zone for the calling module (`tag` its
    /// module), whose record it gets to fill (`init`, `data`); nginx's
    /// zone init then runs the module's, before `init_by_lua*`.
    fn ngx_http_lua_shared_memory_add(
        cf: *mut ngx_conf_t,
        name: *mut ngx_str_t,
        size: usize,
        tag: *mut c_void,
    ) -> *mut ngx_shm_zone_t {
        let (Some(cf), false) = (conf_of(cf), name.is_null()) else {
            return ptr::null_mut();
        };
        // SAFETY: the header's contract: the caller's name string.
        foreign::add(cf, unsafe { &*name }, size, tag)
    }
}

export! {
    /// The zone `name` of the running cycle: a `lua_shared_dict` zone (to
    /// pass to `ngx_http_lua_shared_dict_get`) or one a module declared
    /// with `ngx_http_lua_shared_memory_add` (its own record); null if
    /// none.
    fn ngx_http_lua_find_zone(name_data: *const u8, name_len: usize) -> *mut ngx_shm_zone_t {
        // SAFETY: the header's contract: name_len readable bytes.
        let name = unsafe { super::abi::bytes(name_data, name_len) };
        if let Some(z) = zone::zones().find(|z| z.name == name) {
            return z.shm().as_ptr();
        }
        foreign::find(name).unwrap_or(ptr::null_mut())
    }
}

export! {
    /// Reads `key` of a `lua_shared_dict` zone into `value`: NGX_OK,
    /// NGX_DECLINED when absent, NGX_DONE when expired, NGX_ERROR for a
    /// list value, a string without a buffer to copy it into, or a zone
    /// that is not a shared dict. Strings are cut to the buffer's length.
    fn ngx_http_lua_shared_dict_get(
        zone: *mut ngx_shm_zone_t,
        key_data: *const u8,
        key_len: usize,
        value: *mut LuaValue,
    ) -> ngx_int_t {
        let Some(z) = zone::zones().find(|z| z.shm().as_ptr() == zone) else {
            return ERROR;
        };
        // SAFETY: the header's contract: key_len readable bytes, and a
        // value record the caller owns.
        let (key, value) = unsafe { (super::abi::bytes(key_data, key_len), value.as_mut()) };
        let Some(value) = value else {
            return ERROR;
        };
        let now = {
            let (sec, msec) = crate::nginx::time::cached();
            sec as u64 * 1000 + msec
        };
        let res = z.with(|d| d.get(key, true, now, |g| {
            if g.stale {
                return NGX_DONE as ngx_int_t;
            }
            value.vtype = g.vtype;
            copy_value(value, g.vtype, g.data, key)
        }));
        match res {
            Some(Ok(Some(rc))) => rc,
            Some(Ok(None)) => NGX_DECLINED as ngx_int_t,
            Some(Err(_)) => {
                log_err(&format!(
                    "bad lua value type found for key {}: {}",
                    String::from_utf8_lossy(key),
                    crate::shdict::store::T_LIST
                ));
                ERROR
            }
            None => ERROR,
        }
    }
}

fn log_err(msg: &str) {
    Cycle::current().log().write(NGX_LOG_ERR, msg.as_bytes());
}

/// Copies a found value into the caller's record, as upstream: numbers and
/// booleans by value, strings into the buffer the caller set.
fn copy_value(value: &mut LuaValue, vtype: u8, data: &[u8], key: &[u8]) -> ngx_int_t {
    let key = String::from_utf8_lossy(key);
    match vtype {
        T_STRING => {
            // SAFETY: the caller set the string member (the header's
            // contract for string values): a buffer and its length.
            let s = unsafe { &mut value.value.s };
            if s.data.is_null() || s.len == 0 {
                log_err("no string buffer initialized");
                return ERROR;
            }
            let n = data.len().min(s.len);
            // SAFETY: the caller's buffer holds s.len >= n bytes.
            unsafe { ptr::copy_nonoverlapping(data.as_ptr(), s.data, n) };
            s.len = n;
            OK
        }
        T_NUMBER => match <[u8; 8]>::try_from(data) {
            Ok(b) => {
                value.value.n = f64::from_ne_bytes(b);
                OK
            }
            Err(_) => {
                log_err(&format!(
                    "bad lua number value size found for key {key}: {}",
                    data.len()
                ));
                ERROR
            }
        },
        T_BOOLEAN => match data {
            [b] => {
                value.value.b = c_int::from(*b);
                OK
            }
            _ => {
                log_err(&format!(
                    "bad lua boolean value size found for key {key}: {}",
                    data.len()
                ));
                ERROR
            }
        },
        t => {
            log_err(&format!("bad lua value type found for key {key}: {t}"));
            ERROR
        }
    }
}

export! {
    /// `lua_http10_buffering` of the request's location.
    fn ngx_http_lua_get_lua_http10_buffering(r: *mut ngx_http_request_t) -> c_int {
        // SAFETY: the header's contract: a live request.
        match unsafe { Request::from_raw(r) } {
            Some(r) => LocConf::of(r).http10_buffering() as c_int,
            None => 0,
        }
    }
}

/// What a module registered with `ngx_http_lua_set_co_ctx_cleanup`: the
/// wait of its thread (boxed; the wait slot's data).
struct External {
    cleanup: nginx_sys::ngx_http_cleanup_pt,
    data: *mut c_void,
}

/// A thread waits on another module's operation.
static EXTERNAL: WaitKind = WaitKind {
    cancel: cancel_external,
};

/// The thread goes away (killed, or its request ended): the module's
/// cleanup abandons its operation, as upstream's pending-operation cleanup.
unsafe fn cancel_external(
    data: *mut c_void,
    _t: *mut CoCtx,
    _force: bool,
) -> Result<(), &'static CStr> {
    // SAFETY: data is the External box set_co_ctx_cleanup made for this
    // wait, taken out of the slot here (the slot is cleared by the caller).
    let ext = unsafe { Box::from_raw(data as *mut External) };
    if let Some(f) = ext.cleanup {
        // SAFETY: the module's cleanup with the data it registered.
        unsafe { f(ext.data) };
    }
    Ok(())
}

/// The thread record behind a module's `ngx_http_lua_co_ctx_t *`.
fn co_of<'a>(coctx: *mut CoCtx) -> Option<&'a mut CoCtx> {
    // SAFETY: the header's contract: a record get_cur_co_ctx handed out,
    // of a thread that is still alive (a module's cleanup runs before the
    // record goes away).
    unsafe { coctx.as_mut() }
}

/// Ends a module's wait on `t`: its box, and the data it held.
fn take_external(t: &mut CoCtx) -> Option<Box<External>> {
    t.waiting_on(&EXTERNAL)?;
    let w = t.wait.take()?;
    // Not suspended on it any more (the thread may still be running: a
    // module that cleans up before it yields).
    t.waiting = false;
    // SAFETY: the wait of kind EXTERNAL holds the box set_co_ctx_cleanup
    // made.
    Some(unsafe { Box::from_raw(w.data as *mut External) })
}

export! {
    /// The running thread of `r`'s Lua code (null when none runs).
    fn ngx_http_lua_get_cur_co_ctx(r: *mut ngx_http_request_t) -> *mut CoCtx {
        let cur = current();
        match cur.lua_ctx() {
            Some(c) if c.r == r => cur.co,
            _ => ptr::null_mut(),
        }
    }
}

export! {
    /// Upstream makes `coctx` the request's current thread before resuming
    /// it; our resumption finds the thread by its record: nothing to do.
    fn ngx_http_lua_set_cur_co_ctx(_r: *mut ngx_http_request_t, _coctx: *mut CoCtx) {}
}

export! {
    /// The thread's Lua state (to push the results of a resumption onto).
    fn ngx_http_lua_get_co_ctx_vm(coctx: *mut CoCtx) -> *mut lua_State {
        co_of(coctx).map_or(ptr::null_mut(), |t| t.co)
    }
}

export! {
    /// The data of the cleanup the module registered (null without one).
    fn ngx_http_lua_get_co_ctx_data(coctx: *mut CoCtx) -> *mut c_void {
        co_of(coctx)
            .and_then(|t| t.waiting_on(&EXTERNAL))
            // SAFETY: the wait of kind EXTERNAL holds its External box.
            .map_or(ptr::null_mut(), |d| unsafe { (*(d as *mut External)).data })
    }
}

export! {
    /// The thread is about to yield waiting on the module's operation:
    /// `cleanup(data)` abandons it if the thread goes away first.
    fn ngx_http_lua_set_co_ctx_cleanup(
        coctx: *mut CoCtx,
        cleanup: nginx_sys::ngx_http_cleanup_pt,
        data: *mut c_void,
    ) {
        let Some(t) = co_of(coctx) else {
            return;
        };
        drop(take_external(t));
        let ext = Box::into_raw(Box::new(External { cleanup, data }));
        t.wait_on(ext as *mut c_void, &EXTERNAL);
    }
}

export! {
    /// Runs the module's cleanup now and ends the wait.
    fn ngx_http_lua_cleanup_co_ctx_pending_operation(coctx: *mut CoCtx) {
        let Some(ext) = co_of(coctx).and_then(take_external) else {
            return;
        };
        if let Some(f) = ext.cleanup {
            // SAFETY: the module's cleanup with the data it registered.
            unsafe { f(ext.data) };
        }
    }
}

export! {
    /// Resumes the thread with the `nrets` values the module pushed onto
    /// its state: what the yielding call returns.
    fn ngx_http_lua_co_ctx_resume_helper(coctx: *mut CoCtx, nrets: c_int) {
        let Some(t) = co_of(coctx) else {
            return;
        };
        drop(take_external(t));
        // SAFETY: a suspended thread of a live request (the module's
        // operation would have been cleaned up otherwise), resumed from
        // the module's event.
        unsafe { resume_from_event_with(t, nrets) };
    }
}
