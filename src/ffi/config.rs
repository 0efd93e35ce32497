//! ngx.config.*.
use core::ffi::{c_int, c_uint};

use crate::nginx::cycle::{Cycle, NGINX_VERSION};

const CONFIGURE: &str = env!("NGX_LUA_CONFIGURE");

export! {
    /// The server prefix; the Lua side copies it at once.
    fn ngx_lua_ffi_config_prefix(len: *mut usize) -> *const u8 {
        let cycle = Cycle::current();
        let prefix = cycle.prefix();
        out!(len, prefix.len());
        prefix.as_ptr()
    }
}

export! {
    /// The value `env NAME=value;` of the configuration gives `name`, for
    /// os.getenv in init_by_lua*; null when there is no such directive.
    fn ngx_lua_ffi_get_conf_env(name: *const u8, name_len: usize, len: *mut usize) -> *const u8 {
        match Cycle::current().conf_env(lua_bytes!(name, name_len)) {
            Some(v) => {
                out!(len, v.len());
                v.as_ptr()
            }
            None => core::ptr::null(),
        }
    }
}

export! {
    fn ngx_lua_ffi_nginx_version() -> c_uint {
        NGINX_VERSION as c_uint
    }
}

export! {
    fn ngx_lua_ffi_config_debug() -> c_int {
        cfg!(ngx_lua_debug) as c_int
    }
}

export! {
    fn ngx_lua_ffi_nginx_configure(len: *mut usize) -> *const u8 {
        out!(len, CONFIGURE.len());
        CONFIGURE.as_ptr()
    }
}
