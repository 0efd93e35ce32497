-- require "ngx.base64": URL-safe base64 (RFC 4648 section 5, no padding).
local ffi = require "ffi"
local base = require "resty.core.base"
local b64 = require "resty.core.base64"
local C = ffi.C
local ffi_str = ffi.string
local get_string_buf = base.get_string_buf
local type = type
local floor = math.floor

ffi.cdef [[
    size_t ngx_lua_ffi_encode_base64(const u_char *src, size_t len, u_char *dst,
                                     int no_padding, int url);
]]

local _M = { version = base.version }

function _M.encode_base64url(s)
    if type(s) ~= "string" then
        return nil, "must provide a string"
    end
    local slen = #s
    local dst = get_string_buf(floor((slen * 8 + 5) / 6))
    return ffi_str(dst, C.ngx_lua_ffi_encode_base64(s, slen, dst, 1, 1))
end

function _M.decode_base64url(s)
    if type(s) ~= "string" then
        return nil, "must provide a string"
    end
    local res = b64.decode(1, s)
    if not res then
        return nil, "invalid input"
    end
    return res
end

return _M
