-- ngx.quote_sql_str.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_string_buf = base.get_string_buf
local type, tostring, error, select = type, tostring, error, select

ffi.cdef [[
    size_t ngx_lua_ffi_quote_sql_str_len(const u_char *src, size_t len);
    size_t ngx_lua_ffi_quote_sql_str(const u_char *src, size_t len, u_char *dst);
]]

function ngx.quote_sql_str(...)
    if select("#", ...) ~= 1 then
        error("expecting one argument", 2)
    end
    local s = ...
    local t = type(s)
    if t == "number" then
        s = tostring(s)
    elseif t ~= "string" then
        error("bad argument #1 to 'quote_sql_str' (string expected, got " .. t .. ")", 2)
    end
    local len = #s
    local dst = get_string_buf(C.ngx_lua_ffi_quote_sql_str_len(s, len))
    return ffi_str(dst, C.ngx_lua_ffi_quote_sql_str(s, len, dst))
end

return { version = base.version }
