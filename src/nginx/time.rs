//! nginx's cached clock.
use nginx_sys::*;

/// Seconds and milliseconds of nginx's cached time.
pub fn cached() -> (i64, u64) {
    // SAFETY: ngx_cached_time always points at a valid ngx_time_t slot; nginx
    // swaps the pointer atomically when it updates the time.
    unsafe {
        let tp = ngx_cached_time;
        ((*tp).sec, (*tp).msec as u64)
    }
}

pub fn update() {
    // SAFETY: updating the cached time is allowed at any point in a worker.
    unsafe { ngx_time_update() }
}

/// Broken-down time: UTC (`gmt`) or the local zone.
pub fn broken_down(sec: i64, gmt: bool) -> ngx_tm_t {
    // SAFETY: plain conversion functions writing into our struct.
    unsafe {
        let mut tm: ngx_tm_t = core::mem::zeroed();
        if gmt {
            // ngx_gmtime already yields a 1-based month and a full year.
            ngx_gmtime(sec as time_t, &mut tm);
        } else {
            ngx_libc_localtime(sec as time_t, &mut tm);
            tm.tm_mon += 1;
            tm.tm_year += 1900;
        }
        tm
    }
}
