//! ngx.shared.DICT: the store operations under the zone lock.
//!
//! `zone` is the `Zone` `ngx_lua_ffi_shdict_zone` handed out (it lives as
//! long as the cycle, longer than the VM that holds it). Values longer than
//! the caller's buffer are copied into a `malloc`ed block the Lua side
//! frees with `ngx_lua_ffi_shdict_free` (as upstream does), so a short
//! `get` allocates nothing but the Lua string.
use core::ffi::{c_int, c_long, c_void};
use core::ptr;

use super::*;
use crate::shdict::store::{Value, T_BOOLEAN, T_NIL, T_NUMBER, T_STRING};
use crate::shdict::zone::{zones, Zone};

/// Milliseconds of nginx's cached clock.
fn now_ms() -> u64 {
    let (sec, msec) = crate::nginx::time::cached();
    sec as u64 * 1000 + msec
}

const NOT_READY: &[u8] = b"shared dict not ready";

/// An in/out parameter lua-lib passes (a one-element cdata array).
fn inout<'a, T>(p: *mut T) -> Option<&'a mut T> {
    lua_buf!(p, 1).first_mut()
}

/// The status of a write that may have evicted live entries (set/add/
/// replace, incr): `*forcible` in every case, `ok` takes the success value
/// and says whether it was forcible.
fn forcible_status<T>(
    r: Option<Result<T, (&str, bool)>>,
    forcible: *mut c_int,
    err: &mut ErrOut,
    ok: impl FnOnce(T) -> bool,
) -> c_int {
    match r {
        None => {
            err.set(NOT_READY);
            FFI_ERROR
        }
        Some(Ok(v)) => {
            out!(forcible, ok(v) as c_int);
            FFI_OK
        }
        Some(Err((msg, f))) => {
            out!(forcible, f as c_int);
            err.set(msg.as_bytes());
            FFI_ERROR
        }
    }
}

/// The FFI status of a read that copies a value out to the caller (get,
/// lpop/rpop): `Some(false)` from the copy means no buffer could hold it.
fn copied_status<E: AsRef<[u8]>>(
    r: Option<Result<Option<bool>, E>>,
    vtype: *mut c_int,
    err: &mut ErrOut,
) -> c_int {
    match r {
        None => {
            err.set(NOT_READY);
            FFI_ERROR
        }
        Some(Ok(None)) | Some(Ok(Some(true))) => FFI_OK,
        Some(Ok(Some(false))) => {
            out!(vtype, T_NIL as c_int);
            err.set(b"no memory");
            FFI_ERROR
        }
        Some(Err(msg)) => {
            err.set(msg.as_ref());
            FFI_ERROR
        }
    }
}

export! {
    /// Number of zones of the configuration.
    fn ngx_lua_ffi_shdict_count() -> c_int {
        zones().len() as c_int
    }
}

export! {
    /// The `i`th zone and its name.
    fn ngx_lua_ffi_shdict_zone(i: c_int, name: *mut *const u8, len: *mut usize) -> *const Zone {
        let Some(z) = zones().nth(i.max(0) as usize) else {
            return ptr::null();
        };
        out!(name, z.name.as_ptr());
        out!(len, z.name.len());
        z
    }
}

export! {
    /// A zone by name, or null.
    fn ngx_lua_ffi_shdict_find(name: *const u8, len: usize) -> *const Zone {
        let n = lua_bytes!(name, len);
        zones()
            .find(|z| z.name.as_slice() == n)
            .map_or(ptr::null(), |z| z as *const Zone)
    }
}

export! {
    /// Frees a long value's block (copy_out).
    fn ngx_lua_ffi_shdict_free(p: *mut c_void) {
        lua_free!(p);
    }
}

fn value_of(vtype: c_int, s: &[u8], num: f64) -> Option<Value<'_>> {
    match vtype as u8 {
        T_NIL => Some(Value::Nil),
        T_BOOLEAN => Some(Value::Bool(num != 0.0)),
        T_NUMBER => Some(Value::Num(num)),
        T_STRING => Some(Value::Str(s)),
        _ => None,
    }
}

/// Copies a value out: strings into `*buf` (capacity `*len`) or a malloc'ed
/// block, numbers and booleans into `*num`. False when no block could be
/// had.
fn copy_out(vtype: u8, data: &[u8], buf: *mut *mut u8, len: *mut usize, num: *mut f64) -> bool {
    match vtype {
        T_NUMBER => {
            let b = data.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok());
            out!(num, f64::from_ne_bytes(b.unwrap_or([0; 8])));
        }
        T_BOOLEAN => out!(num, data.first().map_or(0.0, |&b| b as f64)),
        _ => {
            let (Some(buf), Some(len)) = (inout(buf), inout(len)) else {
                return false;
            };
            if data.len() > *len {
                let p = malloc_copy(&[data]);
                if p.is_null() {
                    return false;
                }
                *buf = p;
            } else {
                lua_buf!(*buf, data.len()).copy_from_slice(data);
            }
            *len = data.len();
        }
    }
    true
}

export! {
    /// set/add/replace/safe_*/delete. `*forcible` tells whether live
    /// entries were evicted.
    fn ngx_lua_ffi_shdict_store(
        zone: *const Zone,
        op: c_int,
        key: *const u8,
        key_len: usize,
        vtype: c_int,
        str_value: *const u8,
        str_len: usize,
        num: f64,
        exptime_ms: c_long,
        flags: c_int,
        forcible: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        out!(forcible, 0);
        let Some(z) = lua_ref!(zone) else {
            err.set(NOT_READY);
            return FFI_ERROR;
        };
        let Some(v) = value_of(vtype, lua_bytes!(str_value, str_len), num) else {
            err.set(b"unsupported value type");
            return FFI_ERROR;
        };
        let k = lua_bytes!(key, key_len);
        let r = z.with(|d| d.store(op, k, v, exptime_ms, flags as u32, now_ms()));
        forcible_status(r, forcible, &mut err, |f| f)
    }
}

export! {
    /// get / get_stale. `*vtype` is 0 (nil) for a missing key.
    fn ngx_lua_ffi_shdict_get(
        zone: *const Zone,
        key: *const u8,
        key_len: usize,
        vtype: *mut c_int,
        buf: *mut *mut u8,
        len: *mut usize,
        num: *mut f64,
        flags: *mut c_int,
        get_stale: c_int,
        is_stale: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        out!(vtype, T_NIL as c_int);
        let Some(z) = lua_ref!(zone) else {
            err.set(NOT_READY);
            return FFI_ERROR;
        };
        let k = lua_bytes!(key, key_len);
        let r = z.with(|d| {
            d.get(k, get_stale != 0, now_ms(), |g| {
                out!(vtype, g.vtype as c_int);
                out!(flags, g.flags as c_int);
                out!(is_stale, g.stale as c_int);
                copy_out(g.vtype, g.data, buf, len, num)
            })
        });
        copied_status(r, vtype, &mut err)
    }
}

export! {
    /// incr: `*value` is the delta in and the new value out.
    fn ngx_lua_ffi_shdict_incr(
        zone: *const Zone,
        key: *const u8,
        key_len: usize,
        value: *mut f64,
        has_init: c_int,
        init: f64,
        init_ttl_ms: c_long,
        forcible: *mut c_int,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        out!(forcible, 0);
        let (Some(z), Some(value)) = (lua_ref!(zone), inout(value)) else {
            err.set(NOT_READY);
            return FFI_ERROR;
        };
        let k = lua_bytes!(key, key_len);
        let init = (has_init != 0).then_some(init);
        let delta = *value;
        // The clock is read before the lock is taken.
        let now = now_ms();
        let r = z.with(|d| d.incr(k, delta, init, init_ttl_ms, now));
        forcible_status(r, forcible, &mut err, |(v, f)| {
            *value = v;
            f
        })
    }
}

export! {
    /// lpush/rpush: the new length in `*n`. FFI_DECLINED when upstream
    /// returns `false` rather than nil with the error.
    fn ngx_lua_ffi_shdict_push(
        zone: *const Zone,
        key: *const u8,
        key_len: usize,
        left: c_int,
        vtype: c_int,
        str_value: *const u8,
        str_len: usize,
        num: f64,
        n: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let Some(z) = lua_ref!(zone) else {
            err.set(NOT_READY);
            return FFI_ERROR;
        };
        let v = if vtype as u8 == T_STRING {
            Value::Str(lua_bytes!(str_value, str_len))
        } else {
            Value::Num(num)
        };
        let k = lua_bytes!(key, key_len);
        match z.with(|d| d.push(k, left != 0, v, now_ms())) {
            None => {
                err.set(NOT_READY);
                FFI_ERROR
            }
            Some(Ok(len)) => {
                out!(n, len);
                FFI_OK
            }
            Some(Err((msg, false_not_nil))) => {
                err.set(msg.as_bytes());
                if false_not_nil {
                    FFI_DECLINED
                } else {
                    FFI_ERROR
                }
            }
        }
    }
}

export! {
    /// lpop/rpop: `*vtype` is 0 (nil) when the key is absent.
    fn ngx_lua_ffi_shdict_pop(
        zone: *const Zone,
        key: *const u8,
        key_len: usize,
        left: c_int,
        vtype: *mut c_int,
        buf: *mut *mut u8,
        len: *mut usize,
        num: *mut f64,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        out!(vtype, T_NIL as c_int);
        let Some(z) = lua_ref!(zone) else {
            err.set(NOT_READY);
            return FFI_ERROR;
        };
        let k = lua_bytes!(key, key_len);
        let r = z.with(|d| {
            d.pop(k, left != 0, now_ms(), |t, data| {
                out!(vtype, t as c_int);
                copy_out(t, data, buf, len, num)
            })
        });
        copied_status(r, vtype, &mut err)
    }
}

export! {
    fn ngx_lua_ffi_shdict_llen(
        zone: *const Zone,
        key: *const u8,
        key_len: usize,
        n: *mut usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        let mut err = err_out!(err, errlen);
        let k = lua_bytes!(key, key_len);
        match lua_ref!(zone).and_then(|z| z.with(|d| d.llen(k, now_ms()))) {
            None => {
                err.set(NOT_READY);
                FFI_ERROR
            }
            Some(Ok(len)) => {
                out!(n, len);
                FFI_OK
            }
            Some(Err(msg)) => {
                err.set(msg.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// ttl in ms into `*ttl`; FFI_DECLINED when the key is absent.
    fn ngx_lua_ffi_shdict_get_ttl(
        zone: *const Zone,
        key: *const u8,
        key_len: usize,
        ttl: *mut c_long,
    ) -> c_int {
        let k = lua_bytes!(key, key_len);
        match lua_ref!(zone).and_then(|z| z.with(|d| d.ttl(k, now_ms()))) {
            None => FFI_ERROR,
            Some(None) => FFI_DECLINED,
            Some(Some(ms)) => {
                out!(ttl, ms as c_long);
                FFI_OK
            }
        }
    }
}

export! {
    /// expire; FFI_DECLINED when the key is absent.
    fn ngx_lua_ffi_shdict_set_expire(
        zone: *const Zone,
        key: *const u8,
        key_len: usize,
        exptime_ms: c_long,
    ) -> c_int {
        let k = lua_bytes!(key, key_len);
        match lua_ref!(zone).and_then(|z| z.with(|d| d.set_expire(k, exptime_ms, now_ms()))) {
            None => FFI_ERROR,
            Some(false) => FFI_DECLINED,
            Some(true) => FFI_OK,
        }
    }
}

export! {
    fn ngx_lua_ffi_shdict_flush_all(zone: *const Zone) -> c_int {
        match lua_ref!(zone).and_then(|z| z.with(|d| d.flush_all(now_ms()))) {
            None => FFI_ERROR,
            Some(()) => FFI_OK,
        }
    }
}

export! {
    /// Number of expired entries freed (at most `max`, 0: all).
    fn ngx_lua_ffi_shdict_flush_expired(zone: *const Zone, max: c_int) -> c_int {
        lua_ref!(zone)
            .and_then(|z| z.with(|d| d.flush_expired(max.max(0) as usize, now_ms())))
            .map_or(FFI_ERROR, |n| n as c_int)
    }
}

export! {
    /// Up to `max` (0: all) live keys into one malloc'ed block at `*out`:
    /// `count` key lengths (`size_t`) then the keys back to back. Returns
    /// the count (the block is null when it is 0).
    fn ngx_lua_ffi_shdict_get_keys(zone: *const Zone, max: c_int, out: *mut *mut u8) -> c_int {
        out!(out, ptr::null_mut());
        let Some(z) = lua_ref!(zone) else {
            return FFI_ERROR;
        };
        let (mut count, mut lens, mut data) = (0, Vec::new(), Vec::new());
        let r = z.with(|d| {
            d.keys(max.max(0) as usize, now_ms(), |k| {
                count += 1;
                lens.extend_from_slice(&k.len().to_ne_bytes());
                data.extend_from_slice(k);
            })
        });
        if r.is_none() {
            return FFI_ERROR;
        }
        if count == 0 {
            return 0;
        }
        let p = malloc_copy(&[&lens, &data]);
        if p.is_null() {
            return FFI_ERROR;
        }
        out!(out, p);
        count as c_int
    }
}

export! {
    fn ngx_lua_ffi_shdict_capacity(zone: *const Zone) -> usize {
        lua_ref!(zone).map_or(0, |z| z.capacity())
    }
}

export! {
    fn ngx_lua_ffi_shdict_free_space(zone: *const Zone) -> usize {
        lua_ref!(zone).map_or(0, |z| z.free_space())
    }
}
