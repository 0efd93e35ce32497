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

/// nginx's monotonic millisecond clock (`ngx_current_msec`), as of the
/// last time update.
pub fn current_msec() -> ngx_msec_t {
    // SAFETY: a plain integer nginx's event loop updates in this same
    // (single-threaded) worker.
    unsafe { ngx_current_msec }
}

/// A monotonic clock in nanoseconds (`CLOCK_MONOTONIC`, a vDSO call on
/// Linux: no system call), for durations shorter than nginx's millisecond
/// tick.
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own; CLOCK_MONOTONIC
    // always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
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

/// Room `http_time` needs ("Thu, 18-Nov-10 11:27:35 GMT" and nginx's
/// longest variant fit in 40 bytes).
pub const HTTP_TIME_MAX: usize = 64;

/// nginx's `Last-Modified` (or, with `cookie`, its cookie `expires`) text
/// of `sec` into `buf`; returns the length.
pub fn http_time(sec: i64, cookie: bool, buf: &mut [u8]) -> usize {
    assert!(buf.len() >= HTTP_TIME_MAX);
    // SAFETY: the formatters write at most 40 bytes and return the end.
    unsafe {
        let p = buf.as_mut_ptr();
        let end = if cookie {
            ngx_http_cookie_time(p, sec as time_t)
        } else {
            ngx_http_time(p, sec as time_t)
        };
        end.offset_from(p) as usize
    }
}

/// nginx's parser of HTTP dates: seconds since the epoch, or -1.
pub fn parse_http_time(s: &[u8]) -> i64 {
    // SAFETY: ngx_parse_http_time only reads len bytes.
    unsafe { ngx_parse_http_time(s.as_ptr() as *mut u8, s.len()) as i64 }
}
