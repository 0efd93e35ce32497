//! ngx.shared.DICT: the store operations under the zone lock.
//!
//! `zone` is the `Zone` pointer `ngx_lua_ffi_shdict_zone` handed out. Values
//! longer than the caller's buffer are copied into a `malloc`ed block the
//! Lua side frees with `ngx_lua_ffi_shdict_free` (as upstream does), so a
//! short `get` allocates nothing but the Lua string.
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

/// # Safety
/// `p` is null or `len` readable bytes.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller's Lua string.
        unsafe { core::slice::from_raw_parts(p, len) }
    }
}

/// # Safety
/// `zone` is null or a pointer from `ngx_lua_ffi_shdict_zone`.
unsafe fn zone_ref<'a>(zone: *mut c_void) -> Option<&'a Zone> {
    // SAFETY: zones live as long as their cycle, which outlives its VM.
    unsafe { (zone as *const Zone).as_ref() }
}

const NOT_READY: &[u8] = b"shared dict not ready";

/// The status of a write that may have evicted live entries (set/add/
/// replace, incr): `*forcible` in every case, `ok` takes the success value
/// and says whether it was forcible.
///
/// # Safety
/// `forcible`, `err` and `errlen` are the caller's out parameters.
unsafe fn forcible_status<T>(
    r: Option<Result<T, (&str, bool)>>,
    forcible: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
    ok: impl FnOnce(T) -> bool,
) -> c_int {
    // SAFETY: see above.
    unsafe {
        match r {
            None => {
                set_err(err, errlen, NOT_READY);
                FFI_ERROR
            }
            Some(Ok(v)) => {
                *forcible = ok(v) as c_int;
                FFI_OK
            }
            Some(Err((msg, f))) => {
                *forcible = f as c_int;
                set_err(err, errlen, msg.as_bytes());
                FFI_ERROR
            }
        }
    }
}

/// The FFI status of a read that copies a value out to the caller (get,
/// lpop/rpop): `Some(false)` from the copy means no buffer could hold it.
///
/// # Safety
/// `vtype`, `err` and `errlen` are the caller's out parameters.
unsafe fn copied_status<E: AsRef<[u8]>>(
    r: Option<Result<Option<bool>, E>>,
    vtype: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    // SAFETY: see above.
    unsafe {
        match r {
            None => {
                set_err(err, errlen, NOT_READY);
                FFI_ERROR
            }
            Some(Ok(None)) | Some(Ok(Some(true))) => FFI_OK,
            Some(Ok(Some(false))) => {
                *vtype = T_NIL as c_int;
                set_err(err, errlen, b"no memory");
                FFI_ERROR
            }
            Some(Err(msg)) => {
                set_err(err, errlen, msg.as_ref());
                FFI_ERROR
            }
        }
    }
}

/// Number of zones of the configuration.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_count() -> c_int {
    zones().len() as c_int
}

/// The `i`th zone and its name.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_zone(
    i: c_int,
    name: *mut *const u8,
    len: *mut usize,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        let Some(z) = zones().nth(i.max(0) as usize) else {
            return ptr::null_mut();
        };
        // SAFETY: a live zone; caller's out parameters.
        unsafe {
            *name = (*z).name.as_ptr();
            *len = (*z).name.len();
        }
        z as *mut c_void
    })
}

/// A zone by name, or null.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_find(name: *const u8, len: usize) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: the caller's string.
        let n = unsafe { bytes(name, len) };
        zones()
            // SAFETY: live zones.
            .find(|&z| unsafe { (*z).name.as_slice() } == n)
            .map_or(ptr::null_mut(), |z| z as *mut c_void)
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_free(p: *mut c_void) {
    // SAFETY: a block we malloc'ed for the caller.
    unsafe { libc::free(p) }
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
/// block, numbers and booleans into `*num`.
///
/// # Safety
/// The caller's out parameters.
unsafe fn copy_out(
    vtype: u8,
    data: &[u8],
    buf: *mut *mut u8,
    len: *mut usize,
    num: *mut f64,
) -> bool {
    // SAFETY: the caller's out parameters.
    unsafe {
        match vtype {
            T_NUMBER => {
                let mut b = [0u8; 8];
                b.copy_from_slice(data.get(..8).unwrap_or(&[0; 8]));
                *num = f64::from_ne_bytes(b);
            }
            T_BOOLEAN => *num = data.first().map_or(0.0, |&b| b as f64),
            _ => {
                if data.len() > *len {
                    let p = libc::malloc(data.len()) as *mut u8;
                    if p.is_null() {
                        return false;
                    }
                    *buf = p;
                }
                ptr::copy_nonoverlapping(data.as_ptr(), *buf, data.len());
                *len = data.len();
            }
        }
    }
    true
}

/// set/add/replace/safe_*/delete. `*forcible` tells whether live entries
/// were evicted.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_store(
    zone: *mut c_void,
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
    guard(FFI_ERROR, || {
        // SAFETY: caller's out parameter, zone and strings.
        unsafe {
            *forcible = 0;
            let Some(z) = zone_ref(zone) else {
                set_err(err, errlen, NOT_READY);
                return FFI_ERROR;
            };
            let Some(v) = value_of(vtype, bytes(str_value, str_len), num) else {
                set_err(err, errlen, b"unsupported value type");
                return FFI_ERROR;
            };
            let k = bytes(key, key_len);
            let r = z.with(|d| d.store(op, k, v, exptime_ms, flags as u32, now_ms()));
            forcible_status(r, forcible, err, errlen, |f| f)
        }
    })
}

/// get / get_stale. `*vtype` is 0 (nil) for a missing key.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_get(
    zone: *mut c_void,
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
    guard(FFI_ERROR, || {
        // SAFETY: caller's out parameters, zone and strings.
        unsafe {
            *vtype = T_NIL as c_int;
            let Some(z) = zone_ref(zone) else {
                set_err(err, errlen, NOT_READY);
                return FFI_ERROR;
            };
            let k = bytes(key, key_len);
            let r = z.with(|d| {
                d.get(k, get_stale != 0, now_ms(), |g| {
                    *vtype = g.vtype as c_int;
                    *flags = g.flags as c_int;
                    *is_stale = g.stale as c_int;
                    copy_out(g.vtype, g.data, buf, len, num)
                })
            });
            copied_status(r, vtype, err, errlen)
        }
    })
}

/// incr: `*value` is the delta in and the new value out.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_incr(
    zone: *mut c_void,
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
    guard(FFI_ERROR, || {
        // SAFETY: caller's out parameters, zone and strings.
        unsafe {
            *forcible = 0;
            let Some(z) = zone_ref(zone) else {
                set_err(err, errlen, NOT_READY);
                return FFI_ERROR;
            };
            let k = bytes(key, key_len);
            let init = (has_init != 0).then_some(init);
            let r = z.with(|d| d.incr(k, *value, init, init_ttl_ms, now_ms()));
            forcible_status(r, forcible, err, errlen, |(v, f)| {
                *value = v;
                f
            })
        }
    })
}

/// lpush/rpush: the new length in `*n`. FFI_DECLINED when upstream
/// returns `false` rather than nil with the error.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_push(
    zone: *mut c_void,
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
    guard(FFI_ERROR, || {
        // SAFETY: caller's out parameters, zone and strings.
        unsafe {
            let Some(z) = zone_ref(zone) else {
                set_err(err, errlen, NOT_READY);
                return FFI_ERROR;
            };
            let v = if vtype as u8 == T_STRING {
                Value::Str(bytes(str_value, str_len))
            } else {
                Value::Num(num)
            };
            let k = bytes(key, key_len);
            match z.with(|d| d.push(k, left != 0, v, now_ms())) {
                None => {
                    set_err(err, errlen, NOT_READY);
                    FFI_ERROR
                }
                Some(Ok(len)) => {
                    *n = len;
                    FFI_OK
                }
                Some(Err((msg, false_not_nil))) => {
                    set_err(err, errlen, msg.as_bytes());
                    if false_not_nil {
                        FFI_DECLINED
                    } else {
                        FFI_ERROR
                    }
                }
            }
        }
    })
}

/// lpop/rpop: `*vtype` is 0 (nil) when the key is absent.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_pop(
    zone: *mut c_void,
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
    guard(FFI_ERROR, || {
        // SAFETY: caller's out parameters, zone and strings.
        unsafe {
            *vtype = T_NIL as c_int;
            let Some(z) = zone_ref(zone) else {
                set_err(err, errlen, NOT_READY);
                return FFI_ERROR;
            };
            let k = bytes(key, key_len);
            let r = z.with(|d| {
                d.pop(k, left != 0, now_ms(), |t, data| {
                    *vtype = t as c_int;
                    copy_out(t, data, buf, len, num)
                })
            });
            copied_status(r, vtype, err, errlen)
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_llen(
    zone: *mut c_void,
    key: *const u8,
    key_len: usize,
    n: *mut usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: caller's out parameters, zone and strings.
        unsafe {
            let k = bytes(key, key_len);
            match zone_ref(zone).and_then(|z| z.with(|d| d.llen(k, now_ms()))) {
                None => {
                    set_err(err, errlen, NOT_READY);
                    FFI_ERROR
                }
                Some(Ok(len)) => {
                    *n = len;
                    FFI_OK
                }
                Some(Err(msg)) => {
                    set_err(err, errlen, msg.as_bytes());
                    FFI_ERROR
                }
            }
        }
    })
}

/// ttl in ms into `*ttl`; FFI_DECLINED when the key is absent.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_get_ttl(
    zone: *mut c_void,
    key: *const u8,
    key_len: usize,
    ttl: *mut c_long,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: caller's out parameter, zone and string.
        unsafe {
            let k = bytes(key, key_len);
            match zone_ref(zone).and_then(|z| z.with(|d| d.ttl(k, now_ms()))) {
                None => FFI_ERROR,
                Some(None) => FFI_DECLINED,
                Some(Some(ms)) => {
                    *ttl = ms as c_long;
                    FFI_OK
                }
            }
        }
    })
}

/// expire; FFI_DECLINED when the key is absent.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_set_expire(
    zone: *mut c_void,
    key: *const u8,
    key_len: usize,
    exptime_ms: c_long,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: caller's zone and string.
        unsafe {
            let k = bytes(key, key_len);
            match zone_ref(zone).and_then(|z| z.with(|d| d.set_expire(k, exptime_ms, now_ms()))) {
                None => FFI_ERROR,
                Some(false) => FFI_DECLINED,
                Some(true) => FFI_OK,
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_flush_all(zone: *mut c_void) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: caller's zone.
        match unsafe { zone_ref(zone) }.and_then(|z| z.with(|d| d.flush_all(now_ms()))) {
            None => FFI_ERROR,
            Some(()) => FFI_OK,
        }
    })
}

/// Number of expired entries freed (at most `max`, 0: all).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_flush_expired(zone: *mut c_void, max: c_int) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: caller's zone.
        unsafe { zone_ref(zone) }
            .and_then(|z| z.with(|d| d.flush_expired(max.max(0) as usize, now_ms())))
            .map_or(FFI_ERROR, |n| n as c_int)
    })
}

/// Up to `max` (0: all) live keys into one malloc'ed block at `*out`:
/// `count` key lengths (`size_t`) then the keys back to back. Returns the
/// count (the block is null when it is 0).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_get_keys(
    zone: *mut c_void,
    max: c_int,
    out: *mut *mut u8,
) -> c_int {
    guard(FFI_ERROR, || {
        // SAFETY: caller's out parameter and zone.
        unsafe {
            *out = ptr::null_mut();
            let Some(z) = zone_ref(zone) else {
                return FFI_ERROR;
            };
            let mut lens: Vec<usize> = Vec::new();
            let mut data: Vec<u8> = Vec::new();
            let r = z.with(|d| {
                d.keys(max.max(0) as usize, now_ms(), |k| {
                    lens.push(k.len());
                    data.extend_from_slice(k);
                })
            });
            if r.is_none() {
                return FFI_ERROR;
            }
            if lens.is_empty() {
                return 0;
            }
            let head = lens.len() * core::mem::size_of::<usize>();
            let p = libc::malloc(head + data.len()) as *mut u8;
            if p.is_null() {
                return FFI_ERROR;
            }
            ptr::copy_nonoverlapping(lens.as_ptr() as *const u8, p, head);
            ptr::copy_nonoverlapping(data.as_ptr(), p.add(head), data.len());
            *out = p;
            lens.len() as c_int
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_capacity(zone: *mut c_void) -> usize {
    // SAFETY: caller's zone.
    guard(0, || unsafe { zone_ref(zone) }.map_or(0, |z| z.capacity()))
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_shdict_free_space(zone: *mut c_void) -> usize {
    // SAFETY: caller's zone.
    guard(0, || {
        unsafe { zone_ref(zone) }.map_or(0, |z| z.free_space())
    })
}
