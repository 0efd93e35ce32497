//! ngx.re.*: compile, match and substitute through `crate::regex`.
use core::ffi::{c_char, c_int};
use core::sync::atomic::Ordering;

use super::{FFI_ERROR, FFI_OK};
use crate::nginx::log;
use crate::regex::{self, Exec, Regex};

/// What `ngx_lua_ffi_re_exec` and `_sub` return after a panic: an error
/// code PCRE2 does not use.
const INTERNAL_ERROR: c_int = -1000;

export! {
    /// Compiles `pat`; NULL with the message in `err` on failure. The result
    /// is freed with `ngx_lua_ffi_re_free` (Lua attaches it as a finalizer).
    fn ngx_lua_ffi_re_compile(
        pat: *const u8,
        len: usize,
        flags: c_int,
        pcre_opts: u32,
        err: *mut u8,
        errlen: *mut usize,
    ) -> *mut Regex {
        let pat = lua_bytes!(pat, len);
        match Regex::compile(pat, pcre_opts, flags) {
            Ok(re) => {
                // upstream's log lines for the JIT outcome
                match re.jit_result {
                    Some(0) => log::cycle(nginx_sys::NGX_LOG_DEBUG, b"pcre2 JIT compiled successfully"),
                    Some(rc) => log::cycle(
                        nginx_sys::NGX_LOG_INFO,
                        format!(
                            "pcre2_jit_compile() failed: {rc} in \"{}\", ignored",
                            String::from_utf8_lossy(pat)
                        )
                        .as_bytes(),
                    ),
                    None => {}
                }
                Box::into_raw(re)
            }
            Err(msg) => {
                err_out!(err, errlen).set(msg.as_bytes());
                core::ptr::null_mut()
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_re_free(re: *mut Regex) {
        drop(lua_box!(re));
    }
}

export! {
    /// One match from byte `pos`: PCRE2's return code (> 0 on a match, with
    /// `re->captures` filled; -1 no match; other negatives are errors).
    fn ngx_lua_ffi_re_exec(re: &mut Regex, flags: c_int, subj: *const u8, len: usize, pos: usize)
        -> c_int, on_panic(INTERNAL_ERROR)
    {
        let s = lua_bytes!(subj, len);
        if pos > s.len() {
            return -1;
        }
        match re.exec(flags, s, pos) {
            Exec::NoMatch => -1,
            Exec::Match(n) => n,
            Exec::Error(rc) => rc,
        }
    }
}

export! {
    /// Attaches a replacement template to `re` (for `ngx_lua_ffi_re_sub`).
    fn ngx_lua_ffi_re_set_template(
        re: &mut Regex,
        tpl: *const u8,
        len: usize,
        err: *mut u8,
        errlen: *mut usize,
    ) -> c_int {
        match re.set_template(lua_bytes!(tpl, len)) {
            Ok(()) => FFI_OK,
            Err(msg) => {
                err_out!(err, errlen).set(msg.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    /// sub (`global` 0) or gsub with the template: the number of
    /// substitutions (the result in `*out`/`*outlen`, valid until the next
    /// call) or a negative PCRE2 error.
    fn ngx_lua_ffi_re_sub(
        re: &mut Regex,
        flags: c_int,
        subj: *const u8,
        len: usize,
        global: c_int,
        out: &mut *const u8,
        outlen: &mut usize,
    ) -> c_int, on_panic(INTERNAL_ERROR) {
        let s = lua_bytes!(subj, len);
        regex::with_sub_buffer(|buf| match re.substitute(flags, s, global != 0, buf) {
            Ok(n) => {
                *out = buf.as_ptr();
                *outlen = buf.len();
                n as c_int
            }
            Err(rc) => rc,
        })
    }
}

export! {
    /// `ngx.re.opt("jit_stack_size", size)`, with `cached` regexes in
    /// the "o" cache; 0, or -1 with the message.
    fn ngx_lua_ffi_re_jit_stack_size(size: c_int, cached: c_int, err: *mut u8, errlen: *mut usize) -> c_int {
        match regex::set_jit_stack_size(size.max(0) as usize, cached > 0) {
            Ok(()) => FFI_OK,
            Err(msg) => {
                err_out!(err, errlen).set(msg.as_bytes());
                FFI_ERROR
            }
        }
    }
}

export! {
    fn ngx_lua_ffi_re_cache_max() -> c_int {
        regex::CACHE_MAX.load(Ordering::Relaxed) as c_int
    }
}

export! {
    fn ngx_lua_ffi_pcre_version() -> *const c_char {
        regex::version().as_ptr() as *const c_char
    }
}
