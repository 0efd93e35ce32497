//! This module's `ngx_module_t`, as the code below the registration layer
//! sees it. The static is defined (with its commands and hooks) in
//! `src/module/`; declaring it here, as a C module's header would, lets the
//! wrappers and the runtime use its indices without importing the layer
//! that wires everything together.
use nginx_sys::ngx_module_t;

extern "C" {
    static mut ngx_http_lua_module: ngx_module_t;
}

/// The module object: its context index (this module's slot in
/// `r->ctx`, `r->loc_conf`, ...) and its address (tags, filters).
pub fn module() -> &'static ngx_module_t {
    // SAFETY: defined in src/module/; nginx writes its indices once while
    // loading the module, before any handler runs, and only reads them
    // afterwards.
    unsafe { &*core::ptr::addr_of!(ngx_http_lua_module) }
}

/// This module's slot in the per-request and per-configuration arrays.
pub fn ctx_index() -> usize {
    module().ctx_index
}

/// The module object as nginx's APIs take it (zone tags, filter
/// finalization).
pub fn as_ptr() -> *mut ngx_module_t {
    core::ptr::addr_of_mut!(ngx_http_lua_module)
}
