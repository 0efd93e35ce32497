-- ngx.encode_base64, ngx.decode_base64, ngx.decode_base64mime.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_string_buf = base.get_string_buf
local type, tostring, error = type, tostring, error
local floor = math.floor

ffi.cdef [[
    size_t ngx_lua_ffi_encode_base64(const u_char *src, size_t len, u_char *dst,
                                     int no_padding, int url);
    int ngx_lua_ffi_decode_base64(int kind, const u_char *src, size_t len,
                                  u_char *dst, size_t *dlen);
]]

local dlen_buf = ffi.new("size_t[1]")

function ngx.encode_base64(s, no_padding)
    if type(s) ~= "string" then
        s = s and tostring(s) or ""
    end
    local pad = 0
    if no_padding then
        if no_padding ~= true then
            error("bad no_padding: boolean expected, got " .. type(no_padding), 2)
        end
        pad = 1
    end
    local slen = #s
    local dlen = pad == 1 and floor((slen * 8 + 5) / 6) or floor((slen + 2) / 3) * 4
    local dst = get_string_buf(dlen)
    return ffi_str(dst, C.ngx_lua_ffi_encode_base64(s, slen, dst, pad, 0))
end

local function decode(kind, s)
    local slen = #s
    local dst = get_string_buf(floor((slen + 3) / 4) * 3)
    if C.ngx_lua_ffi_decode_base64(kind, s, slen, dst, dlen_buf) ~= 0 then
        return nil
    end
    return ffi_str(dst, dlen_buf[0])
end

function ngx.decode_base64(s)
    if type(s) ~= "string" then
        error("string argument only", 2)
    end
    return decode(0, s)
end

function ngx.decode_base64mime(s)
    if type(s) ~= "string" then
        error("string argument only", 2)
    end
    return decode(2, s)
end

return { version = base.version, decode = decode }
