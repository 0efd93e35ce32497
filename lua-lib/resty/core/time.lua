-- ngx.time, ngx.now, ngx.update_time, ngx.today, ngx.localtime, ngx.utctime;
-- the module's monotonic_msec and monotonic_time (nginx's monotonic clock).
local ffi = require "ffi"
local C = ffi.C
local ffi_str = ffi.string
local tonumber, type, error = tonumber, type, error

ffi.cdef [[
    int64_t ngx_lua_ffi_time(void);
    double ngx_lua_ffi_now(void);
    void ngx_lua_ffi_update_time(void);
    int64_t ngx_lua_ffi_monotonic_msec(void);
    size_t ngx_lua_ffi_fmt_time(int kind, u_char *buf);
    size_t ngx_lua_ffi_http_time(int64_t sec, int kind, u_char *buf);
    int64_t ngx_lua_ffi_parse_http_time(const u_char *s, size_t len);
]]

local buf = ffi.new("u_char[64]")

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

function ngx.http_time(sec)
    if type(sec) ~= "number" then
        error("number argument only", 2)
    end
    return ffi_str(buf, C.ngx_lua_ffi_http_time(sec, 0, buf))
end

function ngx.cookie_time(sec)
    if type(sec) ~= "number" then
        error("number argument only", 2)
    end
    return ffi_str(buf, C.ngx_lua_ffi_http_time(sec, 1, buf))
end

function ngx.parse_http_time(s)
    if type(s) ~= "string" then
        error("string argument only", 2)
    end
    local t = C.ngx_lua_ffi_parse_http_time(s, #s)
    if t < 0 then
        return nil
    end
    return tonumber(t)
end

local function monotonic_msec()
    return tonumber(C.ngx_lua_ffi_monotonic_msec())
end

local function monotonic_time()
    return tonumber(C.ngx_lua_ffi_monotonic_msec()) / 1000
end

return {
    version = require("resty.core.base").version,
    monotonic_msec = monotonic_msec,
    monotonic_time = monotonic_time,
}
