//! What `resty.core.base` asks of the module: the running request.
use core::ffi::c_void;

use super::*;

export! {
    /// The running request (`ngx_http_request_t *`, which libraries only
    /// compare with nil or hand back to nginx), or NULL outside a request.
    fn ngx_lua_ffi_get_request() -> *mut c_void {
        let mut none = ErrOut::none();
        match running(u32::MAX, &mut none) {
            Ok(ctx) => ctx.req().as_ptr() as *mut c_void,
            Err(_) => core::ptr::null_mut(),
        }
    }
}
