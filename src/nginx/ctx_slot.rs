//! This module's per-request context slot (`r->ctx[ctx_index]`), filled
//! with a value the request pool owns.
use core::ffi::c_void;
use core::ptr::{self, NonNull};

use nginx_sys::*;

use super::request::Request;

/// The pool cleanup that drops a value [`Request::set_pool_ctx`] moved
/// into the pool.
unsafe extern "C" fn drop_value<T>(data: *mut c_void) {
    super::panic::guard((), || {
        // SAFETY: data is the value set_pool_ctx wrote into the cleanup's
        // own pool memory; the pool runs each cleanup exactly once, before
        // it frees that memory.
        unsafe { ptr::drop_in_place(data as *mut T) }
    })
}

impl Request {
    /// Makes a value with `init` in the request pool (in place: the
    /// value may be large), next to a pool cleanup that drops it when the
    /// request ends (no malloc/free pair per request), and stores its
    /// address in this module's context slot. `None`: no memory.
    #[inline]
    pub fn set_pool_ctx<T>(self, init: impl FnOnce() -> T) -> Option<NonNull<T>> {
        // ngx_palloc aligns to NGX_ALIGNMENT (a word).
        const { assert!(core::mem::align_of::<T>() <= core::mem::size_of::<usize>()) };
        // SAFETY: the live request's pool; the cleanup's data is fresh pool
        // memory of T's size and a word's alignment (asserted above),
        // written before the cleanup can run.
        unsafe {
            let cln = ngx_pool_cleanup_add(self.pool(), core::mem::size_of::<T>());
            if cln.is_null() {
                return None;
            }
            let p = NonNull::new((*cln).data as *mut T)?;
            p.as_ptr().write(init());
            (*cln).handler = Some(drop_value::<T>);
            self.set_module_ctx(p.as_ptr() as *mut c_void);
            Some(p)
        }
    }
}
