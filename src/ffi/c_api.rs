//! The public C API other nginx modules link against: the functions of
//! upstream's `ngx_http_lua_api.h`, with its names, signatures and
//! results, so a module built against that header loads beside ours.
//!
//! Their callers are C modules, not lua-lib; the contract of their
//! pointers is the header's (configuration objects nginx passes the
//! caller, NUL-terminated package names, key and name buffers of the
//! lengths given beside them, a value record the caller owns).
//!
//! Not provided: the coroutine-context functions (`ngx_http_lua_get_cur_co_ctx`
//! and the other `*co_ctx*` ones), whose records are upstream's scheduler's
//! own; a module that uses them fails to load with an undefined symbol,
//! rather than misbehave.
use core::ffi::{c_char, c_int, c_void, CStr};
use core::ptr;

use nginx_sys::{
    ngx_conf_t, ngx_http_request_t, ngx_int_t, ngx_shm_zone_t, ngx_str_t, NGX_DECLINED, NGX_DONE,
    NGX_ERROR, NGX_LOG_ERR, NGX_OK,
};

use crate::conf::{LocConf, MainConf};
use crate::lua::raw::{lua_CFunction, lua_State};
use crate::lua::sched::current;
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
