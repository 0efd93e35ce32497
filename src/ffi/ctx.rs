//! ngx.ctx: the request's table slot.
use core::ffi::c_int;

use super::FFI_NO_REQ;
use crate::lua::sched::current;

export! {
    /// The request's `ngx.ctx` slot; `*is_new` tells Lua to create the table.
    fn ngx_lua_ffi_ctx_ref(is_new: *mut c_int) -> c_int {
        let Some(ctx) = current().lua_ctx() else {
            return FFI_NO_REQ;
        };
        let mut fresh = 0;
        if ctx.ctx_ref <= 0 {
            ctx.ctx_ref = ctx.vm().ctx_ref_new();
            fresh = 1;
        }
        out!(is_new, fresh);
        ctx.ctx_ref
    }
}
