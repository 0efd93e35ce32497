-- ngx.time, ngx.now, ngx.update_time, ngx.today, ngx.localtime, ngx.utctime.
local ffi = require "ffi"
local C = ffi.C
local ffi_str = ffi.string
local tonumber = tonumber

ffi.cdef [[
    int64_t ngx_lua_ffi_time(void);
    double ngx_lua_ffi_now(void);
    void ngx_lua_ffi_update_time(void);
    size_t ngx_lua_ffi_fmt_time(int kind, u_char *buf);
]]

local buf = ffi.new("u_char[32]")

function ngx.time()
    return tonumber(C.ngx_lua_ffi_time())
end

function ngx.now()
    return tonumber(C.ngx_lua_ffi_now())
end

function ngx.update_time()
    C.ngx_lua_ffi_update_time()
end

function ngx.today()
    return ffi_str(buf, C.ngx_lua_ffi_fmt_time(0, buf))
end

function ngx.localtime()
    return ffi_str(buf, C.ngx_lua_ffi_fmt_time(1, buf))
end

function ngx.utctime()
    return ffi_str(buf, C.ngx_lua_ffi_fmt_time(2, buf))
end

return { version = require("resty.core.base").version }
