//! nginx strings: borrowing their bytes, copying bytes into a pool.
use core::ptr;

use nginx_sys::*;

pub(crate) fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if n == 0 || p.is_null() {
        &[]
    } else {
        // SAFETY: callers pass n valid bytes (Lua strings, nginx strings).
        unsafe { core::slice::from_raw_parts(p, n) }
    }
}

/// Copies `s` into the request pool, NUL-terminated (nginx header values
/// are).
pub unsafe fn pool_str(r: *mut ngx_http_request_t, s: &[u8]) -> Option<ngx_str_t> {
    // SAFETY: live request pool.
    unsafe {
        let p = ngx_pnalloc((*r).pool, s.len() + 1) as *mut u8;
        if p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(s.as_ptr(), p, s.len());
        *p.add(s.len()) = 0;
        Some(ngx_str_t {
            len: s.len(),
            data: p,
        })
    }
}
