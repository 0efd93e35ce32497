-- ngx.ssl.session: the session id and data of the handshake an
-- ssl_session_fetch_by_lua* or ssl_session_store_by_lua* handler serves.
local ffi = require "ffi"
local base = require "resty.core.base"
base.allows_subsystem("http")
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local get_string_buf = base.get_string_buf
local get_size_ptr = base.get_size_ptr
local FFI_OK, FFI_NO_REQ_CTX = base.FFI_OK, base.FFI_NO_REQ_CTX
local error = error

ffi.cdef [[
    int ngx_lua_ffi_ssl_session_id(u_char *out, size_t cap, size_t *len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_session_get(u_char *out, size_t cap, size_t *len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_session_set(const u_char *data, size_t len,
        u_char *err, size_t *errlen);
]]

-- nginx's NGX_SSL_MAX_SESSION_SIZE: larger sessions are refused, as
-- upstream.
local MAX_SESSION = 4096

local _M = { version = base.version }

local function failed(rc, err, errlen)
    if rc == FFI_NO_REQ_CTX then
        error("no request found", 3)
    end
    return nil, ffi_str(err, errlen[0])
end

function _M.get_session_id()
    local err, errlen = get_errbuf()
    local buf = get_string_buf(128)
    local sizep = get_size_ptr()
    local rc = C.ngx_lua_ffi_ssl_session_id(buf, 128, sizep, err, errlen)
    if rc == FFI_OK then
        return ffi_str(buf, sizep[0])
    end
    return failed(rc, err, errlen)
end

function _M.get_serialized_session()
    local err, errlen = get_errbuf()
    local buf = get_string_buf(MAX_SESSION)
    local sizep = get_size_ptr()
    local rc = C.ngx_lua_ffi_ssl_session_get(buf, MAX_SESSION, sizep, err,
                                             errlen)
    if rc == FFI_OK then
        return ffi_str(buf, sizep[0])
    end
    return failed(rc, err, errlen)
end

-- A value that is not a string raises (its length or its conversion), as
-- upstream's.
function _M.set_serialized_session(sess)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_ssl_session_set(sess, #sess, err, errlen)
    if rc == FFI_OK then
        return true
    end
    return failed(rc, err, errlen)
end

return _M
