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
