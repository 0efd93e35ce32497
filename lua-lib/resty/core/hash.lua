-- ngx.md5, ngx.md5_bin, ngx.sha1_bin, ngx.hmac_sha1, ngx.crc32_short,
-- ngx.crc32_long.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local type, tostring, error, select = type, tostring, error, select

ffi.cdef [[
    uint32_t ngx_lua_ffi_crc32(const u_char *src, size_t len);
    void ngx_lua_ffi_md5(const u_char *src, size_t len, u_char *dst, int hex);
    void ngx_lua_ffi_sha1(const u_char *key, size_t klen, const u_char *src,
                          size_t len, u_char *dst);
]]

local digest_buf = ffi.new("u_char[32]")

local function str_or_empty(s)
    if type(s) ~= "string" then
        return s and tostring(s) or ""
    end
    return s
end

function ngx.md5_bin(s)
    s = str_or_empty(s)
    C.ngx_lua_ffi_md5(s, #s, digest_buf, 0)
    return ffi_str(digest_buf, 16)
end

function ngx.md5(s)
    s = str_or_empty(s)
    C.ngx_lua_ffi_md5(s, #s, digest_buf, 1)
    return ffi_str(digest_buf, 32)
end

function ngx.sha1_bin(s)
    s = str_or_empty(s)
    C.ngx_lua_ffi_sha1(nil, 0, s, #s, digest_buf)
    return ffi_str(digest_buf, 20)
end

local function check_string(v, i)
    local t = type(v)
    if t == "number" then
        return tostring(v)
    elseif t ~= "string" then
        error("bad argument #" .. i .. " to 'hmac_sha1' (string expected, got "
              .. t .. ")", 3)
    end
    return v
end

function ngx.hmac_sha1(...)
    local n = select("#", ...)
    local key, s = ...
    if n ~= 2 then
        error("expecting 2 arguments, but got " .. n, 2)
    end
    key = check_string(key, 1)
    s = check_string(s, 2)
    C.ngx_lua_ffi_sha1(key, #key, s, #s, digest_buf)
    return ffi_str(digest_buf, 20)
end

local function crc32(s)
    s = str_or_empty(s)
    return C.ngx_lua_ffi_crc32(s, #s)
end

ngx.crc32_short = crc32
ngx.crc32_long = crc32

return { version = base.version }
