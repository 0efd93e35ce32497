//! nginx error-log output.

use nginx_sys::*;

/// Writes `msg` to `log` at `level` if the log is that verbose; nginx's
/// log handler appends the request's client/server/request fields.
///
/// # Safety
/// `log` must be null or point at a live `ngx_log_t`.
pub unsafe fn log_error(level: u32, log: *mut ngx_log_t, msg: &[u8]) {
    if log.is_null() {
        return;
    }
    // SAFETY: log points at a live ngx_log_t (a request's connection log or
    // the cycle log); "%*s" reads exactly len bytes from the pointer.
    unsafe {
        if (*log).log_level < level as ngx_uint_t {
            return;
        }
        ngx_log_error_core(
            level as ngx_uint_t,
            log,
            0,
            c"%*s".as_ptr(),
            msg.len(),
            msg.as_ptr(),
        );
    }
}

/// The cycle's log, for messages outside any request.
pub fn cycle_log() -> *mut ngx_log_t {
    // SAFETY: ngx_cycle is set for the whole life of the process.
    unsafe {
        let cycle = ngx_cycle;
        if cycle.is_null() {
            core::ptr::null_mut()
        } else {
            (*cycle).log
        }
    }
}

/// A live nginx log: a request's connection log or the cycle's.
#[derive(Clone, Copy)]
pub struct Log(*mut ngx_log_t);

impl Log {
    /// The cycle's log (null before nginx set one up: writes are dropped).
    pub fn cycle() -> Log {
        Log(cycle_log())
    }

    /// # Safety
    /// `log` is null or a log that outlives the handle's use.
    pub unsafe fn from_raw(log: *mut ngx_log_t) -> Log {
        Log(log)
    }

    /// The most verbose level the log takes (debug levels are bit masks
    /// above `NGX_LOG_DEBUG`).
    pub fn level(self) -> u32 {
        if self.0.is_null() {
            return NGX_LOG_DEBUG;
        }
        // SAFETY: a live log (see from_raw).
        unsafe { (*self.0).log_level as u32 }
    }

    pub fn write(self, level: u32, msg: &[u8]) {
        // SAFETY: null or a live log (see from_raw).
        unsafe { log_error(level, self.0, msg) }
    }

    /// The raw log (null for none).
    #[inline]
    pub fn as_ptr(self) -> *mut ngx_log_t {
        self.0
    }

    /// Whether the log takes debug lines (the check [`debug!`](crate::debug)
    /// makes before it formats anything).
    #[inline(always)]
    pub fn debugs(self) -> bool {
        // SAFETY: null or a live log (see from_raw).
        !self.0.is_null() && unsafe { (*self.0).log_level } >= NGX_LOG_DEBUG as ngx_uint_t
    }

    /// Formats and writes a debug line; callers check [`Log::debugs`]
    /// first (the `debug!` macro does), so that a log that drops debug
    /// lines costs one comparison.
    #[cold]
    #[inline(never)]
    pub fn write_debug(self, args: core::fmt::Arguments) {
        let msg = match args.as_str() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(args.to_string()),
        };
        self.write(NGX_LOG_DEBUG, msg.as_bytes());
    }
}

/// A pointer as nginx's `%p` prints it (upper-case hex, zero-padded to
/// the pointer's width, no `0x`), for log lines suites match with
/// `[0-9A-F]+`.
#[derive(Clone, Copy)]
pub struct Ptr(pub usize);

impl Ptr {
    pub fn of<T>(p: *const T) -> Ptr {
        Ptr(p as usize)
    }
}

impl core::fmt::Display for Ptr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:01$X}", self.0, 2 * core::mem::size_of::<usize>())
    }
}

/// Writes upstream's debug-level trace line to a [`Log`] when, and only
/// when, that log takes debug lines: the level check comes before any
/// formatting, so a log at `info` or above pays one comparison.
///
/// `debug!(log, "lua ngx.timer expired")`,
/// `debug!(log, "lua found {} pending timers", n)`.
#[macro_export]
macro_rules! debug {
    ($log:expr, $($arg:tt)+) => {{
        let log: $crate::nginx::log::Log = $log;
        if log.debugs() {
            log.write_debug(format_args!($($arg)+));
        }
    }};
}

/// Writes `msg` to the cycle's log (messages outside any request).
pub fn cycle(level: u32, msg: &[u8]) {
    // SAFETY: cycle_log is null or the live cycle's log.
    unsafe { log_error(level, cycle_log(), msg) }
}

/// `ngx_conf_log_error`: a message with the conf file and line.
///
/// # Safety
/// `cf` must be the configuration being parsed.
pub unsafe fn conf_log(cf: *mut ngx_conf_t, level: u32, msg: &str) {
    // SAFETY: cf is the conf being parsed; "%*s" reads len bytes.
    unsafe {
        ngx_conf_log_error(
            level as ngx_uint_t,
            cf,
            0,
            c"%*s".as_ptr(),
            msg.len(),
            msg.as_ptr(),
        );
    }
}
