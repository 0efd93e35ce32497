//! ngx.ctx: the request's table slot.
use core::ffi::c_int;

use super::FFI_NO_REQ;
use crate::lua::conn_ctx;
use crate::lua::sched::current;
use crate::lua::vm::WORKER_CTX_SLOT;

export! {
    /// The request's `ngx.ctx` slot. `*is_new`: 0 the table exists, 1 Lua
    /// makes it (reading through the table in slot `*parent` when that is
    /// positive: the TLS handlers' table of the connection), 2 Lua makes
    /// the table a TLS connection's handlers share (its own `__index`).
    fn ngx_lua_ffi_ctx_ref(is_new: *mut c_int, parent: *mut c_int) -> c_int {
        let cur = current();
        let Some(ctx) = cur.lua_ctx() else {
            // Upstream's fake request there has a ctx table; the handler's
            // caller drops it when the handler returns (`worker_ctx_free`).
            if cur.phase.worker_hook() {
                out!(is_new, 0);
                return WORKER_CTX_SLOT;
            }
            return FFI_NO_REQ;
        };
        if let Some((slot, fresh)) = conn_ctx::ssl_slot(ctx, cur.phase) {
            out!(is_new, if fresh { 2 } else { 0 });
            return slot;
        }
        let mut fresh = 0;
        if ctx.ctx_ref <= 0 {
            ctx.ctx_ref = ctx.vm().ctx_ref_new();
            fresh = 1;
            out!(parent, conn_ctx::inherited(ctx));
        }
        out!(is_new, fresh);
        ctx.ctx_ref
    }
}
