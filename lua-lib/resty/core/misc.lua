-- ngx.status, ngx.is_subrequest, ngx.headers_sent; os.getenv before the
-- workers run.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local tonumber, type, error = tonumber, type, error
local FFI_NO_REQ_CTX, FFI_DECLINED = base.FFI_NO_REQ_CTX, base.FFI_DECLINED

ffi.cdef [[
    int ngx_lua_ffi_get_status(u_char *err, size_t *errlen);
    int ngx_lua_ffi_set_status(int status, u_char *err, size_t *errlen);
    int ngx_lua_ffi_is_subrequest(void);
    int ngx_lua_ffi_headers_sent(void);
    const u_char *ngx_lua_ffi_get_conf_env(const u_char *name, size_t len, size_t *vlen);
]]

base.ngx_getters.status = function()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_get_status(err, errlen)
    if rc == FFI_NO_REQ_CTX or rc == FFI_DECLINED then
        error(ffi_str(err, errlen[0]), 2)
    end
    return rc
end

base.ngx_setters.status = function(status)
    local n = tonumber(status)
    if not n then
        error("attempt to set ngx.status to a " .. type(status) .. " value", 2)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_set_status(n, err, errlen)
    if rc ~= base.FFI_OK then
        error(ffi_str(err, errlen[0]), 2)
    end
end

base.ngx_getters.is_subrequest = function()
    local rc = C.ngx_lua_ffi_is_subrequest()
    if rc == FFI_NO_REQ_CTX then
        -- upstream's init_worker/exit_worker run on a fake request
        local phase = ngx.get_phase()
        if phase == "init_worker" or phase == "exit_worker" then
            error("API disabled in the current context", 2)
        end
        error("no request found", 2)
    end
    if rc == FFI_DECLINED then
        error("API disabled in the current context", 2)
    end
    return rc == 1
end

base.ngx_getters.headers_sent = function()
    local rc = C.ngx_lua_ffi_headers_sent()
    if rc == FFI_NO_REQ_CTX then
        -- upstream's init_worker/exit_worker run on a fake request
        local phase = ngx.get_phase()
        if phase == "init_worker" or phase == "exit_worker" then
            error("API disabled in the current context", 2)
        end
        error("no request found", 2)
    end
    if rc == FFI_DECLINED then
        error("API disabled in the current context", 2)
    end
    return rc == 1
end

-- nginx applies `env NAME=value;` to the environment only in its workers,
-- after init_by_lua* ran: until then os.getenv reads the configuration
-- first, as upstream's resty.core does. The first call from a request puts
-- the plain function back.
do
    local plain_getenv = os.getenv
    local get_request = base.get_request
    local vlen = ffi.new("size_t[1]")
    os.getenv = function(name)
        if get_request() then
            os.getenv = plain_getenv
            return plain_getenv(name)
        end
        if type(name) == "string" then
            local v = C.ngx_lua_ffi_get_conf_env(name, #name, vlen)
            if v ~= nil then
                return ffi_str(v, vlen[0])
            end
        end
        return plain_getenv(name)
    end
end

return { version = base.version }
