-- ngx.ssl: the TLS connection of the running request, or the handshake an
-- ssl_certificate_by_lua* handler serves (certificates, keys, the client's
-- server name, version, randoms, addresses).
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local c = require "ngx_lua.ssl"
local c_clear_certs, c_server_name = c.clear_certs, c.server_name
local ffi_str = ffi.string
local ffi_gc = ffi.gc
local get_errbuf = base.get_errbuf
local get_string_buf = base.get_string_buf
local get_size_ptr = base.get_size_ptr
local FFI_OK, FFI_DECLINED, FFI_NO_REQ_CTX = base.FFI_OK, base.FFI_DECLINED, base.FFI_NO_REQ_CTX
local type, tonumber, error = type, tonumber, error

ffi.cdef [[
    int ngx_lua_ffi_ssl_set_der_certificate(const u_char *data, size_t len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_set_der_private_key(const u_char *data, size_t len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_set_cert(void *cdata, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_set_priv_key(void *cdata, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_raw_addr(int peer, u_char *out, size_t cap,
        size_t *len, int *typ, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_server_port(unsigned short *port, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_ssl_get_tls1_version(u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_secret(int what, u_char *out, size_t *size,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_export_keying_material(u_char *out, size_t outlen,
        const u_char *label, size_t llen, const u_char *context, size_t clen,
        int use_context, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_session_reused(u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_verify_client(void *client, void *trusted, int depth,
        u_char *err, size_t *errlen);
    void *ngx_lua_ffi_ssl_req_pointer(u_char *err, size_t *errlen);
    int ngx_lua_ffi_cert_pem_to_der(const u_char *pem, size_t len,
        u_char *out, size_t cap, u_char *err, size_t *errlen);
    int ngx_lua_ffi_priv_key_pem_to_der(const u_char *pem, size_t len,
        const u_char *pass, size_t pass_len, u_char *out, size_t cap,
        u_char *err, size_t *errlen);
    void *ngx_lua_ffi_parse_pem_cert(const u_char *pem, size_t len,
        u_char *err, size_t *errlen);
    void *ngx_lua_ffi_parse_der_cert(const u_char *der, size_t len,
        u_char *err, size_t *errlen);
    void *ngx_lua_ffi_parse_pem_priv_key(const u_char *pem, size_t len,
        u_char *err, size_t *errlen);
    void *ngx_lua_ffi_parse_der_priv_key(const u_char *der, size_t len,
        u_char *err, size_t *errlen);
    void ngx_lua_ffi_free_cert(void *cdata);
    void ngx_lua_ffi_free_priv_key(void *cdata);
]]

local port_out = ffi.new("unsigned short[1]")
local type_out = ffi.new("int[1]")

local _M = { version = base.version }

-- A failure: raised outside requests, returned inside one.
local function failed(rc, err, errlen)
    if rc == FFI_NO_REQ_CTX then
        error("no request found", 3)
    end
    return nil, ffi_str(err, errlen[0])
end

local function ok_or_fail(rc, err, errlen)
    if rc == FFI_OK then
        return true
    end
    return failed(rc, err, errlen)
end

-- As failed and ok_or_fail, for the C functions of ngx_lua.ssl, which
-- give the error text as a string.
local function failed_text(rc, err)
    if rc == FFI_NO_REQ_CTX then
        error("no request found", 3)
    end
    return nil, err
end

local function ok_or_fail_text(rc, err)
    if rc == FFI_OK then
        return true
    end
    return failed_text(rc, err)
end

function _M.clear_certs()
    return ok_or_fail_text(c_clear_certs())
end

function _M.set_der_cert(data)
    local err, errlen = get_errbuf()
    return ok_or_fail(C.ngx_lua_ffi_ssl_set_der_certificate(data, #data, err,
                                                            errlen),
                      err, errlen)
end

function _M.set_der_priv_key(data)
    local err, errlen = get_errbuf()
    return ok_or_fail(C.ngx_lua_ffi_ssl_set_der_private_key(data, #data, err,
                                                            errlen),
                      err, errlen)
end

function _M.set_cert(cert)
    local err, errlen = get_errbuf()
    return ok_or_fail(C.ngx_lua_ffi_ssl_set_cert(cert, err, errlen), err,
                      errlen)
end

function _M.set_priv_key(key)
    local err, errlen = get_errbuf()
    return ok_or_fail(C.ngx_lua_ffi_ssl_set_priv_key(key, err, errlen), err,
                      errlen)
end

function _M.server_name()
    local rc, v = c_server_name()
    if rc == FFI_OK then
        return v
    end
    if rc == FFI_DECLINED then
        return nil
    end
    return failed_text(rc, v)
end

local addr_types = { [0] = "unix", [1] = "inet", [2] = "inet6" }

local function raw_addr(peer)
    local err, errlen = get_errbuf()
    local buf = get_string_buf(128)
    local sizep = get_size_ptr()
    local rc = C.ngx_lua_ffi_ssl_raw_addr(peer, buf, 128, sizep, type_out, err,
                                          errlen)
    if rc == FFI_OK then
        local typ = addr_types[type_out[0]]
        if not typ then
            return nil, nil, "unknown address type: " .. type_out[0]
        end
        return ffi_str(buf, sizep[0]), typ
    end
    local _, msg = failed(rc, err, errlen)
    return nil, nil, msg
end

function _M.raw_server_addr()
    return raw_addr(0)
end

function _M.raw_client_addr()
    return raw_addr(1)
end

function _M.server_port()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_ssl_server_port(port_out, err, errlen)
    if rc == FFI_OK then
        return port_out[0]
    end
    return failed(rc, err, errlen)
end

local function get_tls1_version()
    local err, errlen = get_errbuf()
    local ver = tonumber(C.ngx_lua_ffi_ssl_get_tls1_version(err, errlen))
    if ver >= 0 then
        return ver
    end
    return failed(ver, err, errlen)
end
_M.get_tls1_version = get_tls1_version

_M.SSL3_VERSION = 0x0300
_M.TLS1_VERSION = 0x0301
_M.TLS1_1_VERSION = 0x0302
_M.TLS1_2_VERSION = 0x0303
_M.TLS1_3_VERSION = 0x0304

local version_names = {
    [0x0300] = "SSLv3", [0x0301] = "TLSv1", [0x0302] = "TLSv1.1",
    [0x0303] = "TLSv1.2", [0x0304] = "TLSv1.3",
}

function _M.get_tls1_version_str()
    local ver, err = get_tls1_version()
    if not ver then
        return nil, err
    end
    local name = version_names[ver]
    if not name then
        return nil, "unknown version"
    end
    return name
end

local function secret(what, outlen, default)
    if outlen == nil then
        outlen = default
    end
    local err, errlen = get_errbuf()
    local buf = get_string_buf(64)
    local sizep = get_size_ptr()
    sizep[0] = outlen
    local rc = C.ngx_lua_ffi_ssl_secret(what, buf, sizep, err, errlen)
    if rc == FFI_OK then
        if outlen == 0 then
            return tonumber(sizep[0])
        end
        return ffi_str(buf, sizep[0])
    end
    return failed(rc, err, errlen)
end

function _M.get_client_random(outlen)
    return secret(0, outlen, 32)
end

function _M.get_server_random(outlen)
    return secret(1, outlen, 32)
end

function _M.get_session_master_key(outlen)
    return secret(2, outlen, 48)
end

function _M.export_keying_material(length, label, context)
    local err, errlen = get_errbuf()
    local buf = get_string_buf(length > 0 and length <= 65536 and length or 1)
    local rc = C.ngx_lua_ffi_ssl_export_keying_material(
        buf, length, label, #label, context, context and #context or 0,
        context and 1 or 0, err, errlen)
    if rc == FFI_OK then
        return ffi_str(buf, length)
    end
    return failed(rc, err, errlen)
end

function _M.verify_client(client_certs, depth, trusted_certs)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_ssl_verify_client(client_certs, trusted_certs,
                                               depth or -1, err, errlen)
    return ok_or_fail(rc, err, errlen)
end

function _M.ssl_session_reused()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_ssl_session_reused(err, errlen)
    if rc < 0 then
        return failed(rc, err, errlen)
    end
    return rc == 1
end

function _M.get_req_ssl_pointer()
    local err, errlen = get_errbuf()
    local p = C.ngx_lua_ffi_ssl_req_pointer(err, errlen)
    if p == nil then
        if not base.get_request() then
            error("no request found", 2)
        end
        return nil, ffi_str(err, errlen[0])
    end
    return p
end

function _M.cert_pem_to_der(pem)
    local err, errlen = get_errbuf()
    local buf = get_string_buf(#pem)
    local n = C.ngx_lua_ffi_cert_pem_to_der(pem, #pem, buf, #pem, err, errlen)
    if n > 0 then
        return ffi_str(buf, n)
    end
    return nil, ffi_str(err, errlen[0])
end

function _M.priv_key_pem_to_der(pem, passphrase)
    local err, errlen = get_errbuf()
    local buf = get_string_buf(#pem)
    local n = C.ngx_lua_ffi_priv_key_pem_to_der(pem, #pem, passphrase,
                                                passphrase and #passphrase or 0,
                                                buf, #pem, err, errlen)
    if n > 0 then
        return ffi_str(buf, n)
    end
    return nil, ffi_str(err, errlen[0])
end

local function parser(f, free)
    return function(text)
        if type(text) ~= "string" then
            error("bad argument #1 (string expected, got " .. type(text) .. ")",
                  2)
        end
        local err, errlen = get_errbuf()
        local p = f(text, #text, err, errlen)
        if p ~= nil then
            return ffi_gc(p, free)
        end
        return nil, ffi_str(err, errlen[0])
    end
end

_M.parse_pem_cert = parser(C.ngx_lua_ffi_parse_pem_cert, C.ngx_lua_ffi_free_cert)
_M.parse_der_cert = parser(C.ngx_lua_ffi_parse_der_cert, C.ngx_lua_ffi_free_cert)
_M.parse_pem_priv_key = parser(C.ngx_lua_ffi_parse_pem_priv_key,
                               C.ngx_lua_ffi_free_priv_key)
_M.parse_der_priv_key = parser(C.ngx_lua_ffi_parse_der_priv_key,
                               C.ngx_lua_ffi_free_priv_key)

-- {{{ upstream connections: get_upstream_ssl_pointer, ssl_session_reused(ssl)
ffi.cdef [[
    void *ngx_lua_ffi_ssl_upstream_pointer(u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_ptr_session_reused(void *ssl);
]]

function _M.get_upstream_ssl_pointer()
    local err, errlen = get_errbuf()
    local p = C.ngx_lua_ffi_ssl_upstream_pointer(err, errlen)
    if p == nil then
        local msg = ffi_str(err, errlen[0])
        if msg == "no request found" then
            error(msg, 2)
        end
        return nil, msg
    end
    return p
end

-- Upstream's form takes an SSL pointer (get_req_ssl_pointer's or
-- get_upstream_ssl_pointer's); without one, the request's connection.
local req_session_reused = _M.ssl_session_reused

function _M.ssl_session_reused(ssl)
    if ssl == nil then
        return req_session_reused()
    end
    if type(ssl) ~= "cdata" then
        return nil, "bad ssl"
    end
    return C.ngx_lua_ffi_ssl_ptr_session_reused(ssl) == 1
end
-- }}}

-- export_keying_material_early and get_req_shared_ssl_ciphers (issue 19).
ffi.cdef [[
    int ngx_lua_ffi_ssl_export_keying_material_early(u_char *out,
        size_t outlen, const u_char *label, size_t llen,
        const u_char *context, size_t clen, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ssl_shared_ciphers(uint16_t *out, uint16_t *n,
        int filter_grease, u_char *err, size_t *errlen);
]]

function _M.export_keying_material_early(length, label, context)
    local err, errlen = get_errbuf()
    local buf = get_string_buf(length > 0 and length <= 65536 and length or 1)
    local rc = C.ngx_lua_ffi_ssl_export_keying_material_early(
        buf, length, label, #label, context, context and #context or 0, err,
        errlen)
    if rc == FFI_OK then
        return ffi_str(buf, length)
    end
    return failed(rc, err, errlen)
end

local ciphers_buf = ffi.new("uint16_t[?]", 256)
local ciphers_n = ffi.new("uint16_t[1]")

function _M.get_req_shared_ssl_ciphers(filter_grease)
    if filter_grease == nil then
        filter_grease = true
    end
    local err, errlen = get_errbuf()
    ciphers_n[0] = 256
    local rc = C.ngx_lua_ffi_ssl_shared_ciphers(ciphers_buf, ciphers_n,
                                                filter_grease and 1 or 0, err,
                                                errlen)
    if rc ~= FFI_OK then
        return failed(rc, err, errlen)
    end
    local res = {}
    for i = 1, ciphers_n[0] do
        res[i] = tonumber(ciphers_buf[i - 1])
    end
    return res
end

return _M
