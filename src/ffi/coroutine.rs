//! The phase rules of the `coroutine` API (resty/core/coroutine.lua).
use core::ffi::c_int;

use super::{disabled, Phase, FFI_DECLINED, FFI_OK};
use crate::lua::phase::YIELDABLE;
use crate::lua::sched::current;

export! {
    /// Which `coroutine` API applies here: `FFI_OK`, ours (yieldable
    /// phases); 1, plain Lua's (header and body filters and `init_by_lua*`,
    /// as upstream); `FFI_DECLINED` with upstream's error text wherever else
    /// a request (or upstream's fake one: init_worker, exit_worker) runs Lua
    /// that may not yield.
    fn ngx_lua_ffi_coroutine_check(err: *mut u8, errlen: *mut usize) -> c_int {
        const PLAIN: u32 = Phase::Init.bit() | Phase::HeaderFilter.bit() | Phase::BodyFilter.bit();
        let phase = current().phase;
        if YIELDABLE & phase.bit() != 0 {
            return FFI_OK;
        }
        if PLAIN & phase.bit() != 0 {
            return 1;
        }
        err_out!(err, errlen).set(disabled(phase).as_bytes());
        FFI_DECLINED
    }
}
