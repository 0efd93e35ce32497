//! ngx.time, ngx.now, ngx.today, ngx.localtime, ngx.utctime,
//! ngx.update_time, ngx.http_time, ngx.cookie_time, ngx.parse_http_time.
use core::ffi::c_int;

use crate::nginx::time;

export! {
    fn ngx_lua_ffi_time() -> i64 {
        time::cached().0
    }
}

export! {
    fn ngx_lua_ffi_now() -> f64 {
        let (s, ms) = time::cached();
        s as f64 + ms as f64 / 1000.0
    }
}

export! {
    /// resty.core.time's monotonic_msec: nginx's monotonic clock, as
    /// upstream's.
    fn ngx_lua_ffi_monotonic_msec() -> i64 {
        time::current_msec() as i64
    }
}

export! {
    fn ngx_lua_ffi_update_time() {
        time::update()
    }
}

export! {
    /// Writes `yyyy-mm-dd` (kind 0, local), `yyyy-mm-dd hh:mm:ss` local (1)
    /// or UTC (2) into `buf` (at least 19 bytes); returns the length.
    fn ngx_lua_ffi_fmt_time(kind: c_int, buf: *mut u8) -> usize {
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
        lua_buf!(buf, s.len()).copy_from_slice(s.as_bytes());
        s.len()
    }
}

export! {
    /// `ngx.http_time` (kind 0, "Thu, 18 Nov 2010 11:27:35 GMT") or
    /// `ngx.cookie_time` (kind 1, "Thu, 18-Nov-10 11:27:35 GMT") of `sec`
    /// into `buf` (at least 64 bytes); returns the length. nginx's own
    /// formatters, so the text is byte-for-byte what nginx writes in
    /// headers.
    fn ngx_lua_ffi_http_time(sec: i64, kind: c_int, buf: *mut u8) -> usize {
        time::http_time(sec, kind != 0, lua_buf!(buf, time::HTTP_TIME_MAX))
    }
}

export! {
    /// `ngx.parse_http_time`: seconds since the epoch, or -1 (NGX_ERROR)
    /// when nginx's parser rejects the text.
    fn ngx_lua_ffi_parse_http_time(s: *const u8, len: usize) -> i64 {
        time::parse_http_time(lua_bytes!(s, len))
    }
}
