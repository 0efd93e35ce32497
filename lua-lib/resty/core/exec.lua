-- ngx.exec and ngx.redirect: end the handler with an internal redirect or
-- a redirect response.
local ffi = require "ffi"
local base = require "resty.core.base"
require "resty.core.uri" -- base.encode_args
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local yield_to_scheduler = base.yield_to_scheduler
local FFI_OK = base.FFI_OK
local type, tostring, error, select = type, tostring, error, select
local ngx = ngx

ffi.cdef [[
    int ngx_lua_ffi_exec(const char *uri, size_t uri_len, const char *args,
        size_t args_len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_redirect(const char *uri, size_t uri_len, int status,
        u_char *err, size_t *errlen);
]]

local function exec(...)
    local n = select("#", ...)
    if n ~= 1 and n ~= 2 then
        error("expecting one or two arguments, but got " .. n, 2)
    end
    local uri, args = ...
    if type(uri) ~= "string" then
        if type(uri) ~= "number" then
            error("bad argument #1 to 'exec' (string expected, got " .. type(uri) .. ")", 2)
        end
        uri = tostring(uri)
    end
    local ta = type(args)
    if ta == "table" then
        local err
        args, err = base.encode_args(args)
        if not args then
            error(err, 2)
        end
    elseif ta == "number" then
        args = tostring(args)
    elseif args ~= nil and ta ~= "string" then
        error("bad argument #2 to 'exec' (string, number, or table expected, got "
              .. ta .. ")", 2)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_exec(uri, #uri, args, args and #args or 0, err, errlen)
    if rc ~= FFI_OK then
        error(ffi_str(err, errlen[0]), 2)
    end
    return yield_to_scheduler()
end

local function redirect(...)
    local n = select("#", ...)
    if n ~= 1 and n ~= 2 then
        error("expecting one or two arguments", 2)
    end
    local uri, status = ...
    if type(uri) ~= "string" then
        if type(uri) ~= "number" then
            error("bad argument #1 to 'redirect' (string expected, got " .. type(uri) .. ")", 2)
        end
        uri = tostring(uri)
    end
    if status == nil then
        status = 302
    elseif type(status) ~= "number" then
        error("bad argument #2 to 'redirect' (number expected, got " .. type(status) .. ")", 2)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_redirect(uri, #uri, status, err, errlen)
    if rc ~= FFI_OK then
        error(ffi_str(err, errlen[0]), 2)
    end
    return yield_to_scheduler()
end

base.set_api(ngx, "exec", exec)
base.set_api(ngx, "redirect", redirect)

return { version = base.version }
