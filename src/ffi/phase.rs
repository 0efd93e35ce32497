//! ngx.get_phase.
use core::ffi::c_int;

use crate::lua::sched::current;

export! {
    fn ngx_lua_ffi_get_phase() -> c_int {
        current().phase as c_int
    }
}
