//! ngx.re.*: compile, match and substitute through `crate::regex`.
use core::ffi::{c_char, c_int};
use core::sync::atomic::Ordering;

use super::{guard, set_err};
use crate::nginx::log;
use crate::regex::{self, Exec, Regex};

/// # Safety
/// `p` points at `len` readable bytes when `len > 0`.
unsafe fn input<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: see above.
        unsafe { core::slice::from_raw_parts(p, len) }
    }
}

/// Compiles `pat`; NULL with the message in `err` on failure. The result
/// is freed with `ngx_lua_ffi_re_free` (Lua attaches it as a finalizer).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_re_compile(
    pat: *const u8,
    len: usize,
    flags: c_int,
    pcre_opts: u32,
    err: *mut u8,
    errlen: *mut usize,
) -> *mut Regex {
    guard(core::ptr::null_mut(), || {
        // SAFETY: a Lua string.
        match Regex::compile(unsafe { input(pat, len) }, pcre_opts, flags) {
            Ok(re) => {
                // upstream's log lines for the JIT outcome
                match re.jit_result {
                    Some(0) => {
                        // SAFETY: the cycle log.
                        unsafe {
                            log::log_error(
                                nginx_sys::NGX_LOG_DEBUG,
                                log::cycle_log(),
                                b"pcre2 JIT compiled successfully",
                            )
                        }
                    }
                    Some(rc) => {
                        // SAFETY (input): the pattern, a Lua string.
                        let msg = format!(
                            "pcre2_jit_compile() failed: {rc} in \"{}\", ignored",
                            String::from_utf8_lossy(unsafe { input(pat, len) })
                        );
                        // SAFETY: the cycle log.
                        unsafe {
                            log::log_error(
                                nginx_sys::NGX_LOG_INFO,
                                log::cycle_log(),
                                msg.as_bytes(),
                            )
                        };
                    }
                    None => {}
                }
                Box::into_raw(re)
            }
            Err(msg) => {
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, msg.as_bytes()) };
                core::ptr::null_mut()
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_re_free(re: *mut Regex) {
    if !re.is_null() {
        // SAFETY: re came from Box::into_raw in ngx_lua_ffi_re_compile and
        // Lua frees it once (its finalizer is removed on explicit free).
        guard((), || drop(unsafe { Box::from_raw(re) }));
    }
}

/// One match from byte `pos`: PCRE2's return code (> 0 on a match, with
/// `re->captures` filled; -1 no match; other negatives are errors).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_re_exec(
    re: *mut Regex,
    flags: c_int,
    subj: *const u8,
    len: usize,
    pos: usize,
) -> c_int {
    guard(-1000, || {
        // SAFETY: a live regex from ngx_lua_ffi_re_compile, a Lua string.
        let (re, s) = unsafe { (&mut *re, input(subj, len)) };
        if pos > s.len() {
            return -1;
        }
        match re.exec(flags, s, pos) {
            Exec::NoMatch => -1,
            Exec::Match(n) => n,
            Exec::Error(rc) => rc,
        }
    })
}

/// Attaches a replacement template to `re` (for `ngx_lua_ffi_re_sub`).
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_re_set_template(
    re: *mut Regex,
    tpl: *const u8,
    len: usize,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: a live regex and a Lua string.
        let (re, t) = unsafe { (&mut *re, input(tpl, len)) };
        match re.set_template(t) {
            Ok(()) => 0,
            Err(msg) => {
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, msg.as_bytes()) };
                -1
            }
        }
    })
}

/// sub (`global` 0) or gsub with the template: the number of
/// substitutions (the result in `*out`/`*outlen`, valid until the next
/// call) or a negative PCRE2 error.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_re_sub(
    re: *mut Regex,
    flags: c_int,
    subj: *const u8,
    len: usize,
    global: c_int,
    out: *mut *const u8,
    outlen: *mut usize,
) -> c_int {
    guard(-1000, || {
        // SAFETY: a live regex and a Lua string.
        let (re, s) = unsafe { (&mut *re, input(subj, len)) };
        regex::with_sub_buffer(|buf| match re.substitute(flags, s, global != 0, buf) {
            Ok(n) => {
                // SAFETY: caller's out parameters; the buffer lives until
                // the next substitution.
                unsafe {
                    *out = buf.as_ptr();
                    *outlen = buf.len();
                }
                n as c_int
            }
            Err(rc) => rc,
        })
    })
}

/// `ngx.re.opt("jit_stack_size", size)`; 0, or -1 with the message.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_re_jit_stack_size(
    size: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> c_int {
    guard(-1, || {
        match regex::set_jit_stack_size(size.max(0) as usize) {
            Ok(()) => 0,
            Err(msg) => {
                // SAFETY: the caller's error buffer.
                unsafe { set_err(err, errlen, msg.as_bytes()) };
                -1
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_re_cache_max() -> c_int {
    regex::CACHE_MAX.load(Ordering::Relaxed) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_pcre_version() -> *const c_char {
    regex::version().as_ptr() as *const c_char
}
