-- ngx.ocsp: OCSP stapling from ssl_certificate_by_lua*: the responder URL
-- and a request for a DER certificate chain, the check of the responder's
-- answer, and the staple of the running handshake.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local get_string_buf = base.get_string_buf
local get_string_buf_size = base.get_string_buf_size
local get_size_ptr = base.get_size_ptr
local FFI_OK, FFI_BUSY, FFI_DECLINED = base.FFI_OK, base.FFI_BUSY, base.FFI_DECLINED
local FFI_NO_REQ_CTX = base.FFI_NO_REQ_CTX
local tonumber, error = tonumber, error

ffi.cdef [[
    int ngx_lua_ffi_ocsp_responder(const u_char *chain, size_t chain_len,
        u_char *out, size_t *size, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ocsp_create_request(const u_char *chain, size_t chain_len,
        u_char *out, size_t *size, u_char *err, size_t *errlen);
    int ngx_lua_ffi_ocsp_validate_response(const u_char *resp, size_t resp_len,
        const u_char *chain, size_t chain_len, u_char *err, size_t *errlen,
        long *next_update);
    int ngx_lua_ffi_ocsp_set_status_resp(const u_char *resp, size_t len,
        u_char *err, size_t *errlen);
]]

local next_update_out = ffi.new("long[1]")

local _M = { version = base.version }

function _M.get_ocsp_responder_from_der_chain(certs, maxlen)
    local size = maxlen or get_string_buf_size()
    local buf = get_string_buf(size)
    local sizep = get_size_ptr()
    sizep[0] = size
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_ocsp_responder(certs, #certs, buf, sizep, err,
                                            errlen)
    if rc == FFI_OK then
        return ffi_str(buf, sizep[0])
    end
    if rc == FFI_DECLINED then
        return nil
    end
    if rc == FFI_BUSY then
        return ffi_str(buf, sizep[0]), "truncated"
    end
    return nil, ffi_str(err, errlen[0])
end

function _M.create_ocsp_request(certs, maxlen)
    local size = maxlen or get_string_buf_size()
    local buf = get_string_buf(size)
    local sizep = get_size_ptr()
    sizep[0] = size
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_ocsp_create_request(certs, #certs, buf, sizep,
                                                 err, errlen)
    if rc == FFI_OK then
        return ffi_str(buf, sizep[0])
    end
    if rc == FFI_BUSY then
        return nil, ffi_str(err, errlen[0]) .. ": " .. tonumber(sizep[0])
                    .. " > " .. size
    end
    return nil, ffi_str(err, errlen[0])
end

function _M.validate_ocsp_response(resp, chain, max_errmsg_len)
    local size = max_errmsg_len or get_string_buf_size()
    local errbuf = get_string_buf(size)
    local sizep = get_size_ptr()
    sizep[0] = size
    next_update_out[0] = 0
    local rc = C.ngx_lua_ffi_ocsp_validate_response(resp, #resp, chain,
                                                    #chain, errbuf, sizep,
                                                    next_update_out)
    if rc == FFI_OK then
        local next_update = tonumber(next_update_out[0])
        if next_update == 0 then
            next_update = nil
        end
        return true, next_update
    end
    return nil, ffi_str(errbuf, sizep[0])
end

function _M.set_ocsp_status_resp(resp)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_ocsp_set_status_resp(resp, #resp, err, errlen)
    if rc == FFI_OK then
        return true
    end
    if rc == FFI_DECLINED then
        return true, "no status req"
    end
    if rc == FFI_NO_REQ_CTX then
        error("no request found")
    end
    return nil, ffi_str(err, errlen[0])
end

return _M
