-- ngx.ssl.proxysslcert: the client certificate and key of the upstream
-- TLS connection whose handshake runs proxy_ssl_certificate_by_lua*.
local ffi = require "ffi"
local base = require "resty.core.base"
base.allows_subsystem("http")
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local FFI_OK, FFI_NO_REQ_CTX = base.FFI_OK, base.FFI_NO_REQ_CTX
local error = error

ffi.cdef [[
    int ngx_lua_ffi_proxy_ssl_clear_certs(u_char *err, size_t *errlen);
    int ngx_lua_ffi_proxy_ssl_set_der_certificate(const u_char *data,
        size_t len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_proxy_ssl_set_der_private_key(const u_char *data,
        size_t len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_proxy_ssl_set_cert(void *cdata, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_proxy_ssl_set_priv_key(void *cdata, u_char *err,
        size_t *errlen);
]]

local _M = { version = base.version }

local function result(rc, err, errlen)
    if rc == FFI_OK then
        return true
    end
    if rc == FFI_NO_REQ_CTX then
        error("no request found", 3)
    end
    return nil, ffi_str(err, errlen[0])
end

function _M.clear_certs()
    local err, errlen = get_errbuf()
    return result(C.ngx_lua_ffi_proxy_ssl_clear_certs(err, errlen), err, errlen)
end

function _M.set_der_cert(data)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_proxy_ssl_set_der_certificate(data, #data, err, errlen)
    return result(rc, err, errlen)
end

function _M.set_der_priv_key(data)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_proxy_ssl_set_der_private_key(data, #data, err, errlen)
    return result(rc, err, errlen)
end

function _M.set_cert(cert)
    local err, errlen = get_errbuf()
    return result(C.ngx_lua_ffi_proxy_ssl_set_cert(cert, err, errlen), err, errlen)
end

function _M.set_priv_key(priv_key)
    local err, errlen = get_errbuf()
    return result(C.ngx_lua_ffi_proxy_ssl_set_priv_key(priv_key, err, errlen), err, errlen)
end

return _M
