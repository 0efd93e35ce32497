//! `ngx.metrics` (an extension): the worker's metrics as Prometheus text.
use super::*;

export! {
    /// The text into a malloc'ed block at `*out` (freed with
    /// `ngx_lua_ffi_metrics_free`), its length in `*len`.
    fn ngx_lua_ffi_metrics_text(out: *mut *mut u8, len: *mut usize) -> c_int {
        out!(out, core::ptr::null_mut());
        let text = crate::metrics::render();
        let p = malloc_copy(&[&text]);
        if p.is_null() {
            return FFI_ERROR;
        }
        out!(out, p);
        out!(len, text.len());
        FFI_OK
    }
}

export! {
    fn ngx_lua_ffi_metrics_free(p: *mut core::ffi::c_void) {
        lua_free!(p);
    }
}
