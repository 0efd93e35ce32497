-- ngx.config.*
local ffi = require "ffi"
local C = ffi.C
local ffi_str = ffi.string

ffi.cdef [[
    const u_char *ngx_lua_ffi_config_prefix(size_t *len);
    unsigned int ngx_lua_ffi_nginx_version(void);
    int ngx_lua_ffi_config_debug(void);
    const u_char *ngx_lua_ffi_nginx_configure(size_t *len);
]]

local len = ffi.new("size_t[1]")

ngx.config = {
    subsystem = "http",
    -- The upstream API level implemented; libraries gate features on it.
    ngx_lua_version = 10026,
    nginx_version = tonumber(C.ngx_lua_ffi_nginx_version()),
    debug = C.ngx_lua_ffi_config_debug() == 1,
    prefix = function()
        local p = C.ngx_lua_ffi_config_prefix(len)
        return ffi_str(p, len[0])
    end,
    nginx_configure = function()
        local p = C.ngx_lua_ffi_nginx_configure(len)
        return ffi_str(p, len[0])
    end,
}

return { version = require("resty.core.base").version }
