-- ngx.ssl.clienthello: what the client's ClientHello offers, and the
-- protocols allowed for it, from an ssl_client_hello_by_lua* handler.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local get_string_buf = base.get_string_buf
local get_size_ptr = base.get_size_ptr
local get_request = base.get_request
local FFI_OK, FFI_DECLINED, FFI_BUSY = base.FFI_OK, base.FFI_DECLINED, base.FFI_BUSY
local error, ipairs, tonumber, byte = error, ipairs, tonumber, string.byte
local bor = require("bit").bor
local get_phase = ngx.get_phase

ffi.cdef [[
    int ngx_lua_ffi_ssl_client_hello_server_name(u_char *out, size_t cap,
        size_t *len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_client_hello_ext(unsigned int typ, u_char *out,
        size_t cap, size_t *len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_client_hello_ext_present(int *out, size_t cap,
        size_t *len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_client_hello_ciphers(uint16_t *out, size_t cap,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_set_protocols(int mask, u_char *err, size_t *errlen);
]]

local ciphers_buf = ffi.new("uint16_t[?]", 256)
local types_buf = ffi.new("int[?]", 128)

local _M = { version = base.version }

-- As upstream: outside requests "no request found", in other phases
-- "API disabled in the current context", both raised.
local function check()
    if not get_request() then
        error("no request found", 3)
    end
    if get_phase() ~= "ssl_client_hello" then
        error("API disabled in the current context", 3)
    end
end

function _M.get_client_hello_server_name()
    check()
    local err, errlen = get_errbuf()
    local buf = get_string_buf(256)
    local sizep = get_size_ptr()
    local rc = C.ngx_lua_ffi_ssl_client_hello_server_name(buf, 256, sizep, err,
                                                          errlen)
    if rc == FFI_OK then
        return ffi_str(buf, sizep[0])
    end
    if rc == FFI_DECLINED then
        return nil
    end
    return nil, ffi_str(err, errlen[0])
end

local function get_ext(ext_type)
    local err, errlen = get_errbuf()
    local sizep = get_size_ptr()
    local cap = 4096
    local buf = get_string_buf(cap)
    local rc = C.ngx_lua_ffi_ssl_client_hello_ext(ext_type, buf, cap, sizep,
                                                  err, errlen)
    if rc == FFI_BUSY then
        cap = tonumber(sizep[0])
        buf = get_string_buf(cap)
        rc = C.ngx_lua_ffi_ssl_client_hello_ext(ext_type, buf, cap, sizep, err,
                                                errlen)
    end
    if rc == FFI_OK then
        return ffi_str(buf, sizep[0])
    end
    if rc == FFI_DECLINED then
        return nil
    end
    return nil, ffi_str(err, errlen[0])
end

function _M.get_client_hello_ext(ext_type)
    check()
    return get_ext(ext_type)
end

function _M.get_client_hello_ext_present()
    check()
    local err, errlen = get_errbuf()
    local sizep = get_size_ptr()
    local buf, cap = types_buf, 128
    local rc = C.ngx_lua_ffi_ssl_client_hello_ext_present(buf, cap, sizep, err,
                                                          errlen)
    if rc == FFI_BUSY then
        cap = tonumber(sizep[0])
        buf = ffi.new("int[?]", cap)
        rc = C.ngx_lua_ffi_ssl_client_hello_ext_present(buf, cap, sizep, err,
                                                        errlen)
    end
    if rc == FFI_OK then
        local t = {}
        for i = 0, tonumber(sizep[0]) - 1 do
            t[i + 1] = buf[i]
        end
        return t
    end
    if rc == FFI_DECLINED then
        return nil
    end
    return nil, ffi_str(err, errlen[0])
end

-- GREASE values (RFC 8701): 0x?a?a with both nibbles equal.
local function is_grease(v)
    return v % 256 == math.floor(v / 256) and v % 16 == 0xa
end

function _M.get_client_hello_ciphers()
    check()
    local err, errlen = get_errbuf()
    local n = C.ngx_lua_ffi_ssl_client_hello_ciphers(ciphers_buf, 256, err,
                                                     errlen)
    if n <= 0 then
        return nil, ffi_str(err, errlen[0])
    end
    local t, j = {}, 1
    for i = 0, n - 1 do
        local c = ciphers_buf[i]
        if not is_grease(c) then
            t[j] = c
            j = j + 1
        end
    end
    return t
end

local version_names = {
    [0x0002] = "SSLv2", [0x0300] = "SSLv3", [0x0301] = "TLSv1",
    [0x0302] = "TLSv1.1", [0x0303] = "TLSv1.2", [0x0304] = "TLSv1.3",
}

-- The supported_versions extension (43), last offered first as upstream
-- lists them; unknown (GREASE) versions left out.
function _M.get_supported_versions()
    check()
    local ext, err = get_ext(43)
    if not ext then
        return nil, err
    end
    local n = #ext - 1
    if n < 0 or byte(ext, 1) ~= n then
        return nil
    end
    local t = {}
    for i = n, 2, -2 do
        local v = byte(ext, i) * 256 + byte(ext, i + 1)
        if version_names[v] then
            t[#t + 1] = version_names[v]
        end
    end
    return t
end

local protocol_bits = {
    ["SSLv2"] = 0x0002, ["SSLv3"] = 0x0004, ["TLSv1"] = 0x0008,
    ["TLSv1.1"] = 0x0010, ["TLSv1.2"] = 0x0020, ["TLSv1.3"] = 0x0040,
}

function _M.set_protocols(protocols)
    check()
    local mask = 0
    for _, name in ipairs(protocols) do
        local bit = protocol_bits[name]
        if not bit then
            return nil, "invalid protocols failed"
        end
        mask = bor(mask, bit)
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_ssl_set_protocols(mask, err, errlen) == FFI_OK then
        return true
    end
    return nil, ffi_str(err, errlen[0])
end

return _M
