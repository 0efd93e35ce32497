-- ngx.ssl.proxysslverify: the verdict on the upstream's certificate, in
-- proxy_ssl_verify_by_lua*.
local ffi = require "ffi"
local base = require "resty.core.base"
base.allows_subsystem("http")
local C = ffi.C
local ffi_gc = ffi.gc
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local FFI_OK, FFI_ERROR, FFI_NO_REQ_CTX = base.FFI_OK, base.FFI_ERROR, base.FFI_NO_REQ_CTX
local error = error
local get_phase = ngx.get_phase
local get_request = base.get_request

ffi.cdef [[
    int ngx_lua_ffi_proxy_ssl_set_verify_result(int v, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_proxy_ssl_get_verify_result(u_char *err, size_t *errlen);
    void *ngx_lua_ffi_proxy_ssl_get_verify_cert(u_char *err, size_t *errlen);
    void ngx_lua_ffi_proxy_ssl_free_verify_cert(void *cdata);
]]

local _M = { version = base.version }

-- Only the verify handler has a verification to act on (outside requests
-- the missing request is reported first, as upstream).
local function check_phase()
    if not get_request() then
        error("no request found", 3)
    end
    if get_phase() ~= "proxy_ssl_verify" then
        error("API disabled in the current context", 3)
    end
end

local function fail(rc, err, errlen)
    if rc == FFI_NO_REQ_CTX then
        error("no request found", 3)
    end
    return nil, ffi_str(err, errlen[0])
end

function _M.set_verify_result(verify_result)
    check_phase()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_proxy_ssl_set_verify_result(verify_result, err, errlen)
    if rc == FFI_OK then
        return true
    end
    return fail(rc, err, errlen)
end

function _M.get_verify_result()
    check_phase()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_proxy_ssl_get_verify_result(err, errlen)
    if rc == FFI_ERROR or rc == FFI_NO_REQ_CTX then
        return fail(rc, err, errlen)
    end
    return rc
end

function _M.get_verify_cert()
    check_phase()
    local err, errlen = get_errbuf()
    local cert = C.ngx_lua_ffi_proxy_ssl_get_verify_cert(err, errlen)
    if cert ~= nil then
        return ffi_gc(cert, C.ngx_lua_ffi_proxy_ssl_free_verify_cert)
    end
    return nil, ffi_str(err, errlen[0])
end

return _M
