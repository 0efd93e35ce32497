-- ngx.process: process types, the privileged agent, the master's pid.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local type, tonumber = type, tonumber

ffi.cdef [[
    int ngx_lua_ffi_enable_privileged_agent(unsigned int connections, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_get_process_type(void);
    void ngx_lua_ffi_process_signal_graceful_exit(void);
    int ngx_lua_ffi_master_pid(void);
]]

local names = {
    [0] = "single",
    [1] = "master",
    [2] = "signaller",
    [3] = "worker",
    [4] = "helper",
    [99] = "privileged agent",
}

local _M = { version = base.version }

function _M.type()
    return names[tonumber(C.ngx_lua_ffi_get_process_type())]
end

function _M.enable_privileged_agent(connections)
    if ngx.get_phase() ~= "init" then
        return nil, "API disabled in the current context"
    end
    connections = connections or 512
    if type(connections) ~= "number" or connections < 0 then
        return nil, "bad 'connections' argument: number expected and greater than 0"
    end
    local err, errlen = base.get_errbuf()
    if C.ngx_lua_ffi_enable_privileged_agent(connections, err, errlen) ~= base.FFI_OK then
        return nil, ffi_str(err, errlen[0])
    end
    return true
end

function _M.signal_graceful_exit()
    C.ngx_lua_ffi_process_signal_graceful_exit()
end

function _M.get_master_pid()
    local pid = C.ngx_lua_ffi_master_pid()
    if pid < 0 then
        return nil
    end
    return tonumber(pid)
end

return _M
