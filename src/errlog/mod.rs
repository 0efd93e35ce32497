//! `lua_capture_error_log` and what `ngx.errlog` reads: a buffer of the
//! error log lines this process writes, filled by an error log writer of
//! our own in every log chain of the cycle (`nginx::log_writer`), where
//! OpenResty patches nginx's logging core instead.
//!
//! As upstream's, the buffer belongs to the cycle and each process has its
//! own copy (a worker reads the lines it logged itself); lines that do not
//! fit push out the oldest ones.
pub mod ring;

use core::ffi::{c_char, c_void};
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use nginx_sys::*;
use ngx::core::Pool;

use crate::conf::MainConf;
use crate::nginx::cycle::Cycle;
use crate::nginx::log::conf_log;
use crate::nginx::log_writer;
use crate::nginx::panic::guard;
use ring::Ring;

/// Smallest buffer upstream accepts (OpenResty's longest log line).
const MIN_SIZE: usize = 4096;

pub struct Capture {
    inner: Mutex<Inner>,
    /// Lines above this level are not kept (`set_filter_level`).
    filter: AtomicUsize,
    /// The cycle whose logs carry our writer. Lines are kept only while
    /// it is nginx's running cycle, as upstream's hook hangs off
    /// `ngx_cycle`: nginx's start-up notices (`nginx/1.x`, `OS:`,
    /// `getrlimit`), written before nginx switches to the new cycle, stay
    /// out of the buffer.
    cycle: AtomicPtr<ngx_cycle_t>,
}

struct Inner {
    ring: Ring,
    buf: Vec<u8>,
    /// The line handed to Lua last: a copy, since a thread-pool thread may
    /// log (and overwrite the buffer) while Lua reads it.
    last: Vec<u8>,
}

/// The capture buffer of the cycle this process runs (or, while
/// `init_by_lua*` runs, of the cycle being configured).
static CURRENT: AtomicPtr<Capture> = AtomicPtr::new(ptr::null_mut());

fn current() -> Option<&'static Capture> {
    // SAFETY: CURRENT is null or a Capture in the pool of the cycle this
    // process runs or configures (see prepare), which outlives its use.
    unsafe { CURRENT.load(Ordering::Acquire).as_ref() }
}

/// Upstream's error when the directive is missing.
pub const NOT_SET: &str = "directive \"lua_capture_error_log\" is not set";

/// `lua_capture_error_log SIZE`.
///
/// # Safety
/// nginx's directive setter contract (MAIN offset: `conf` is our MainConf).
pub unsafe extern "C" fn set_capture_error_log(
    cf: *mut ngx_conf_t,
    _: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    guard(usize::MAX as *mut c_char, || {
        // SAFETY: as above; TAKE1: args[1] exists.
        unsafe {
            let mcf = &mut *(conf as *mut MainConf);
            if mcf.capture_error_log.is_some() {
                return c"is duplicate".as_ptr() as *mut c_char;
            }
            let arg = (*(*cf).args).elts as *mut ngx_str_t;
            let value = &mut *arg.add(1);
            let shown = String::from_utf8_lossy(core::slice::from_raw_parts(value.data, value.len));
            if value.len == 0 {
                conf_log(
                    cf,
                    NGX_LOG_EMERG,
                    &format!("invalid capture error log size \"{shown}\""),
                );
                return usize::MAX as *mut c_char;
            }
            let size = ngx_parse_size(value);
            if size < MIN_SIZE as isize {
                conf_log(
                    cf,
                    NGX_LOG_EMERG,
                    &format!(
                        "invalid capture error log size \"{shown}\", minimum size is {MIN_SIZE}"
                    ),
                );
                return usize::MAX as *mut c_char;
            }
            mcf.capture_error_log = Some(size as usize);
            ptr::null_mut()
        }
    })
}

/// Creates the cycle's buffer (in the cycle pool) when the directive is
/// set, so `init_by_lua*` can already set its filter level; false when
/// out of memory.
///
/// # Safety
/// `cf` is the http block's configuration, `mcf` its main conf.
pub unsafe fn prepare(cf: *mut ngx_conf_t, mcf: &MainConf) -> bool {
    let Some(size) = mcf.capture_error_log else {
        CURRENT.store(ptr::null_mut(), Ordering::Release);
        return true;
    };
    // SAFETY: the cycle pool; Pool::allocate drops the value with it.
    let pool = unsafe { Pool::from_ngx_pool((*cf).pool) };
    let cap = pool.allocate(Capture {
        inner: Mutex::new(Inner {
            ring: Ring::default(),
            buf: vec![0; size],
            last: Vec::new(),
        }),
        filter: AtomicUsize::new(NGX_LOG_DEBUG as usize),
        cycle: AtomicPtr::new(ptr::null_mut()),
    });
    if cap.is_null() {
        return false;
    }
    CURRENT.store(cap, Ordering::Release);
    true
}

/// Puts our writer into every error log chain of the cycle.
///
/// # Safety
/// `cycle` is the cycle being initialised (init_module).
pub unsafe fn install(cycle: *mut ngx_cycle_t) -> bool {
    let cap = CURRENT.load(Ordering::Acquire);
    if cap.is_null() {
        return true;
    }
    // SAFETY: cap is the Capture prepare() put in this cycle's pool.
    unsafe { (*cap).cycle.store(cycle, Ordering::Release) };
    // SAFETY: the capture lives in this cycle's pool, as its logs do.
    unsafe { log_writer::add_to_cycle(cycle, writer, cap as *mut c_void) }
}

unsafe extern "C" fn writer(log: *mut ngx_log_t, level: ngx_uint_t, buf: *mut u_char, len: usize) {
    guard((), || {
        // SAFETY: our node's wdata is the cycle's Capture (install); nginx
        // passes the formatted line, len bytes.
        let (cap, line) = unsafe {
            (
                &*((*log).wdata as *const Capture),
                core::slice::from_raw_parts(buf, len),
            )
        };
        if level > cap.filter.load(Ordering::Relaxed)
            || Cycle::current().as_ptr() != cap.cycle.load(Ordering::Relaxed)
        {
            return;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let (sec, msec) = crate::nginx::time::cached();
        let time = sec as f64 + msec as f64 / 1000.0;
        let mut inner = cap.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { ring, buf, .. } = &mut *inner;
        ring.write(buf, level as u32, time, line);
    })
}

/// `set_filter_level`: keep only lines at `level` or more severe.
pub fn set_filter_level(level: i64) -> Result<(), String> {
    let cap = current().ok_or_else(|| NOT_SET.to_string())?;
    if !(NGX_LOG_STDERR as i64..=NGX_LOG_DEBUG as i64).contains(&level) {
        return Err(format!("bad log level: {level}"));
    }
    cap.filter.store(level as usize, Ordering::Relaxed);
    Ok(())
}

/// A captured line: level, time (seconds), text.
pub type Line = (u32, f64, &'static [u8]);

/// The oldest captured line, removed from the buffer; `Ok(None)` when
/// there is none. The text stays valid until the next call.
pub fn take() -> Result<Option<Line>, &'static str> {
    let cap = current().ok_or(NOT_SET)?;
    let mut inner = cap.inner.lock().unwrap_or_else(|p| p.into_inner());
    let Inner { ring, buf, last } = &mut *inner;
    let Some(rec) = ring.read(buf) else {
        return Ok(None);
    };
    last.clear();
    last.extend_from_slice(rec.msg);
    let (level, time) = (rec.level, rec.time);
    let text: *const [u8] = last.as_slice();
    drop(inner);
    // SAFETY: `last` lives in the cycle's Capture and is only replaced by
    // the next take(), which lua-lib calls after copying this text.
    Ok(Some((level, time, unsafe { &*text })))
}
