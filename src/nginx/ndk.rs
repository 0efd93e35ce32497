//! The nginx development kit's `set_var` directives (`set_md5`,
//! `set_quote_sql_str`, ... of ngx_set_misc and other NDK-based modules),
//! found in the modules nginx loaded and called as functions, as upstream
//! does when built with NDK. Here the NDK is looked up at run time: the
//! module works with or without it.
use core::ffi::{c_char, c_void};
use core::ptr;

use nginx_sys::*;

use super::request::Request;

/// NDK's `ndk_set_var_t`: what a set_var directive's `post` points at.
#[repr(C)]
struct SetVar {
    kind: ngx_int_t,
    func: *mut c_void,
    size: usize,
    data: *mut c_void,
}

/// An NDK value filter: `ngx_int_t f(r, ngx_str_t *out, ngx_http_variable_value_t *in)`.
type Filter = unsafe extern "C" fn(
    *mut ngx_http_request_t,
    *mut ngx_str_t,
    *mut ngx_http_variable_value_t,
) -> ngx_int_t;

/// NDK's `ndk_set_var_value` setter, when an NDK module is loaded.
fn set_var_value() -> *mut c_void {
    // SAFETY: a symbol lookup in the process's global scope (nginx loads
    // modules with RTLD_GLOBAL).
    unsafe {
        libc::dlsym(
            libc::RTLD_DEFAULT,
            c"ndk_set_var_value".as_ptr() as *const c_char,
        )
    }
}

pub fn available() -> bool {
    !set_var_value().is_null()
}

/// Filters handed out by [`lookup`]: [`call`] only calls those.
static mut KNOWN: Vec<usize> = Vec::new();

fn known() -> &'static mut Vec<usize> {
    // SAFETY: only the event-loop thread looks directives up and calls
    // them; no reference is kept across calls.
    unsafe { &mut *ptr::addr_of_mut!(KNOWN) }
}

/// The filter behind the set_var directive `name`, if an HTTP module of
/// the running cycle declares one (an opaque handle for [`call`]).
pub fn lookup(name: &[u8]) -> Option<usize> {
    let f = find(name)?;
    if !known().contains(&f) {
        known().push(f);
    }
    Some(f)
}

fn find(name: &[u8]) -> Option<usize> {
    let setter = set_var_value();
    if setter.is_null() {
        return None;
    }
    // SAFETY: the running cycle's module list and their command tables
    // (NULL-terminated, static in each module).
    unsafe {
        let mut m = (*ngx_cycle).modules;
        while !(*m).is_null() {
            let module = *m;
            m = m.add(1);
            if (*module).type_ != NGX_HTTP_MODULE as ngx_uint_t || (*module).commands.is_null() {
                continue;
            }
            let mut cmd = (*module).commands;
            while (*cmd).name.len != 0 {
                let c = &*cmd;
                cmd = cmd.add(1);
                if c.set.map(|f| f as *mut c_void) != Some(setter) || c.post.is_null() {
                    continue;
                }
                if core::slice::from_raw_parts(c.name.data, c.name.len) == name {
                    let f = (*(c.post as *const SetVar)).func;
                    return (!f.is_null()).then_some(f as usize);
                }
            }
        }
    }
    None
}

/// Runs the filter `func` (from [`lookup`]) on `arg` for `r`: the value
/// (in the request pool) or the filter's status code (`NGX_ERROR` for a
/// handle lookup did not give).
pub fn call(r: Request, func: usize, arg: &[u8]) -> Result<&[u8], ngx_int_t> {
    if !known().contains(&func) {
        return Err(NGX_ERROR as ngx_int_t);
    }
    // SAFETY: `func` is a filter lookup() found in an NDK module's
    // set_var directive, with that signature; `arg` outlives the call; the
    // result lives in the request's pool.
    unsafe {
        let f: Filter = core::mem::transmute::<usize, Filter>(func);
        let mut v: ngx_http_variable_value_t = core::mem::zeroed();
        v.set_valid(1);
        v.data = arg.as_ptr() as *mut u8;
        v.set_len(arg.len() as u32);
        let mut out = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        let rc = f(r.as_ptr(), &mut out, &mut v);
        if rc != NGX_OK as ngx_int_t {
            return Err(rc);
        }
        if out.len == 0 || out.data.is_null() {
            return Ok(&[]);
        }
        Ok(core::slice::from_raw_parts(out.data, out.len))
    }
}
