-- resty.core.utils: helpers lua-resty-core exposes to libraries.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str, ffi_copy = ffi.string, ffi.copy
local byte, find = string.byte, string.find
local get_string_buf = base.get_string_buf

ffi.cdef [[
    void ngx_lua_ffi_str_replace_char(u_char *buf, size_t len, u_char find, u_char replace);
]]

local _M = { version = base.version }

-- Every occurrence of the byte `what` in `str` replaced by the byte `with`
-- (one byte each: longer strings only use their first byte, and a `what`
-- that does not occur leaves `str` as it is).
function _M.str_replace_char(str, what, with)
    if not find(str, what, nil, true) then
        return str
    end
    local len = #str
    local buf = get_string_buf(len)
    ffi_copy(buf, str, len)
    C.ngx_lua_ffi_str_replace_char(buf, len, byte(what), byte(with))
    return ffi_str(buf, len)
end

return _M
