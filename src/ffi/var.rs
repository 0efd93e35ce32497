//! ngx.var: nginx variables and regex captures.
use core::ffi::c_int;

use nginx_sys::*;

use super::*;

/// Copies `data` into the request pool.
fn pool_copy(r: *mut ngx_http_request_t, data: *const u8, len: usize) -> Option<*mut u8> {
    if len == 0 {
        return Some(core::ptr::NonNull::dangling().as_ptr());
    }
    // SAFETY: live request pool; `data` holds len bytes (a Lua string).
    unsafe {
        let p = ngx_pnalloc((*r).pool, len) as *mut u8;
        if p.is_null() {
            return None;
        }
        core::ptr::copy_nonoverlapping(data, p, len);
        Some(p)
    }
}

/// Reads `$name` (or capture `capture_id` when `name` is NULL). `FFI_OK`
/// with the value, `FFI_DECLINED` for an undefined or not-found variable.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_var_get(
    name: *const u8,
    len: usize,
    capture_id: c_int,
    lowcase: *mut u8,
    value: *mut *const u8,
    // int, not size_t: see FfiKv (a variable's length is 28 bits).
    value_len: *mut c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = match unsafe { request_in(REQUEST_PHASES, err, errlen) } {
            Ok(c) => c,
            // FFI_DECLINED is this function's "no value": a refused phase
            // is an error with its text.
            Err(FFI_DECLINED) => return FFI_ERROR,
            Err(rc) => return rc,
        };
        let r = ctx.r;
        // SAFETY: live request; out pointers from the Lua side; the value
        // stays valid in the request pool (or nginx's variable storage).
        unsafe {
            if name.is_null() {
                if capture_id < 0
                    || (*r).captures.is_null()
                    || 2 * capture_id as usize >= (*r).ncaptures
                {
                    return FFI_DECLINED;
                }
                let caps = (*r).captures;
                let n = capture_id as usize;
                let (a, b) = (*caps.add(2 * n), *caps.add(2 * n + 1));
                *value = (*r).captures_data.add(a as usize);
                *value_len = b - a;
                return FFI_OK;
            }
            let hash = ngx_hash_strlow(lowcase, name as *mut u8, len);
            let mut key = ngx_str_t { len, data: lowcase };
            let vv = ngx_http_get_variable(r, &mut key, hash);
            if vv.is_null() || (*vv).not_found() != 0 {
                return FFI_DECLINED;
            }
            *value = (*vv).data;
            *value_len = (*vv).len() as c_int;
            FFI_OK
        }
    })
}

/// Writes `$name`; only variables nginx marks changeable can be written.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_var_set(
    name: *const u8,
    len: usize,
    lowcase: *mut u8,
    value: *const u8,
    value_len: usize,
    is_nil: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(FFI_ERROR, || {
        let ctx = request_in!(REQUEST_PHASES & !Phase::Log.bit(), err, errlen);
        let r = ctx.r;
        // SAFETY: live request; the core module's main conf holds the
        // variables hash nginx built at configuration time.
        unsafe {
            let hash = ngx_hash_strlow(lowcase, name as *mut u8, len);
            let shown =
                String::from_utf8_lossy(core::slice::from_raw_parts(lowcase, len)).into_owned();
            let cmcf = *(*r).main_conf.add(ngx_http_core_module.ctx_index)
                as *mut ngx_http_core_main_conf_t;
            let v = ngx_hash_find(&mut (*cmcf).variables_hash, hash, lowcase, len)
                as *mut ngx_http_variable_t;
            if v.is_null() {
                set_err(
                    err,
                    errlen,
                    format!(
                        "variable \"{shown}\" not found for writing; maybe it is a built-in variable that is not \
                         changeable or you forgot to use \"set ${shown} '';\" in the config file to define it first"
                    )
                    .as_bytes(),
                );
                return FFI_ERROR;
            }
            if (*v).flags & NGX_HTTP_VAR_CHANGEABLE as ngx_uint_t == 0 {
                set_err(
                    err,
                    errlen,
                    format!("variable \"{shown}\" not changeable").as_bytes(),
                );
                return FFI_ERROR;
            }
            let data = if is_nil != 0 {
                core::ptr::null_mut()
            } else {
                match pool_copy(r, value, value_len) {
                    Some(p) => p,
                    None => {
                        set_err(err, errlen, b"no memory");
                        return FFI_ERROR;
                    }
                }
            };
            let fill = |vv: *mut ngx_http_variable_value_t| {
                if is_nil != 0 {
                    (*vv).set_valid(0);
                    (*vv).set_not_found(1);
                    (*vv).set_len(0);
                    (*vv).data = core::ptr::null_mut();
                } else {
                    (*vv).set_valid(1);
                    (*vv).set_not_found(0);
                    (*vv).set_no_cacheable(0);
                    (*vv).set_len(value_len as u32);
                    (*vv).data = data;
                }
            };
            if let Some(set) = (*v).set_handler {
                let vv = ngx_pcalloc((*r).pool, core::mem::size_of::<ngx_http_variable_value_t>())
                    as *mut ngx_http_variable_value_t;
                if vv.is_null() {
                    set_err(err, errlen, b"no memory");
                    return FFI_ERROR;
                }
                fill(vv);
                set(r, vv, (*v).data);
                return FFI_OK;
            }
            if (*v).flags & NGX_HTTP_VAR_INDEXED as ngx_uint_t != 0 {
                fill((*r).variables.add((*v).index));
                return FFI_OK;
            }
            set_err(
                err,
                errlen,
                format!("variable \"{shown}\" cannot be assigned a value").as_bytes(),
            );
            FFI_ERROR
        }
    })
}
