//! Log lines that end with a context of their own, as those of upstream's
//! fake requests do (", context: init_worker_by_lua*"). Apart from log.rs,
//! which the panic guard itself logs through.
use core::ffi::{c_void, CStr};
use core::ptr;

use nginx_sys::*;

use super::log::{log_error, Log};

/// Writes `msg` to `log` as [`Log::write`] does, the line ending with
/// `context` (which upstream's fake connection's log handler appends).
pub fn write_in_context(log: Log, level: u32, msg: &[u8], context: &'static CStr) {
    // SAFETY: Log holds null or a live log; the copy lives for the call and
    // its chain is the original's.
    unsafe {
        let Some(orig) = log.as_ptr().as_ref() else {
            return;
        };
        let mut copy = *orig;
        copy.handler = Some(context_handler);
        copy.data = context.as_ptr() as *mut c_void;
        log_error(level, &mut copy, msg)
    }
}

/// The handler of [`write_in_context`]'s copy: appends the C string its
/// data points at.
unsafe extern "C" fn context_handler(
    log: *mut ngx_log_t,
    buf: *mut u_char,
    len: usize,
) -> *mut u_char {
    super::panic::guard(buf, || {
        // SAFETY: nginx's arguments (room for len bytes at buf); the log is
        // write_in_context's copy, whose data is a 'static C string.
        unsafe {
            let ctx = CStr::from_ptr((*log).data as *const core::ffi::c_char).to_bytes();
            let n = ctx.len().min(len);
            ptr::copy_nonoverlapping(ctx.as_ptr(), buf, n);
            buf.add(n)
        }
    })
}
