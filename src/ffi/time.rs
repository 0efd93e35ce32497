//! ngx.time, ngx.now, ngx.today, ngx.localtime, ngx.utctime, ngx.update_time.
use core::ffi::c_int;

use crate::nginx::time;

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_time() -> i64 {
    time::cached().0
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_now() -> f64 {
    let (s, ms) = time::cached();
    s as f64 + ms as f64 / 1000.0
}

#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_update_time() {
    time::update()
}

/// Writes `yyyy-mm-dd` (kind 0, local), `yyyy-mm-dd hh:mm:ss` local (1)
/// or UTC (2) into `buf` (at least 19 bytes); returns the length.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_fmt_time(kind: c_int, buf: *mut u8) -> usize {
    let (sec, _) = time::cached();
    let tm = time::broken_down(sec, kind == 2);
    let s = if kind == 0 {
        format!("{:04}-{:02}-{:02}", tm.tm_year, tm.tm_mon, tm.tm_mday)
    } else {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
        )
    };
    // SAFETY: the Lua side passes a buffer of at least 19 bytes.
    unsafe { core::ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len()) };
    s.len()
}

/// `ngx.http_time` (kind 0, "Thu, 18 Nov 2010 11:27:35 GMT") or
/// `ngx.cookie_time` (kind 1, "Thu, 18-Nov-10 11:27:35 GMT") of `sec`
/// into `buf` (at least 64 bytes); returns the length. nginx's own
/// formatters, so the text is byte-for-byte what nginx writes in headers.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_http_time(sec: i64, kind: c_int, buf: *mut u8) -> usize {
    // SAFETY: the formatters write at most 40 bytes into the caller's
    // 64-byte buffer and return the end pointer.
    unsafe {
        let end = if kind == 0 {
            nginx_sys::ngx_http_time(buf, sec as nginx_sys::time_t)
        } else {
            nginx_sys::ngx_http_cookie_time(buf, sec as nginx_sys::time_t)
        };
        end.offset_from(buf) as usize
    }
}

/// `ngx.parse_http_time`: seconds since the epoch, or -1 (NGX_ERROR) when
/// nginx's parser rejects the text.
#[no_mangle]
pub unsafe extern "C" fn ngx_lua_ffi_parse_http_time(s: *const u8, len: usize) -> i64 {
    // SAFETY: ngx_parse_http_time only reads len bytes of a Lua string.
    unsafe { nginx_sys::ngx_parse_http_time(s as *mut u8, len) as i64 }
}
