//! The nginx module: its statics, the directives table and the init hooks
//! that wire the features into nginx. The top layer: it may use every other.
mod balancer;
mod directives;
mod handler;
mod init;

use crate::conf;
use core::ptr;
use nginx_sys::{ngx_http_module_t, ngx_module_t, NGX_HTTP_MODULE};

static mut ngx_http_lua_module_ctx: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: None,
    postconfiguration: Some(init::postconfiguration),
    create_main_conf: Some(conf::create_main_conf),
    init_main_conf: Some(conf::init_main_conf),
    create_srv_conf: Some(crate::balancer::create_srv_conf),
    merge_srv_conf: None,
    create_loc_conf: Some(conf::create_loc_conf),
    merge_loc_conf: Some(conf::merge_loc_conf),
};

#[no_mangle]
pub static mut ngx_http_lua_module: ngx_module_t = ngx_module_t {
    ctx: ptr::addr_of!(ngx_http_lua_module_ctx) as _,
    // SAFETY: only the address of the table's first entry is taken; nginx
    // reads the table through it.
    commands: unsafe { ptr::addr_of_mut!(directives::COMMANDS[0]) },
    type_: NGX_HTTP_MODULE as _,
    init_master: None,
    init_module: Some(init::init_module),
    init_process: Some(init::init_process),
    exit_process: Some(init::exit_process),
    exit_master: Some(init::exit_master),
    ..ngx_module_t::default()
};

/// The dynamic-module exports nginx's `load_module` reads (what
/// `ngx::ngx_modules!` generates, plus a load order).
#[cfg(not(test))]
mod exports {
    use core::ffi::c_char;
    use core::ptr;
    use nginx_sys::ngx_module_t;

    #[no_mangle]
    pub static mut ngx_modules: [*const ngx_module_t; 2] =
        [ptr::addr_of!(super::ngx_http_lua_module), ptr::null()];

    #[no_mangle]
    pub static mut ngx_module_names: [*const c_char; 2] =
        [c"ngx_http_lua_module".as_ptr(), ptr::null()];

    /// Placed just before nginx's copy filter, where nginx puts any dynamic
    /// filter module by default (and so upstream's): our body filters, the
    /// subrequest capture among them, then run below the copy filter, which
    /// reads file buffers into memory when a request asks for it.
    #[no_mangle]
    pub static mut ngx_module_order: [*const c_char; 3] = [
        c"ngx_http_lua_module".as_ptr(),
        c"ngx_http_copy_filter_module".as_ptr(),
        ptr::null(),
    ];
}
