-- ngx.worker.*
local ffi = require "ffi"
local C = ffi.C

ffi.cdef [[
    int ngx_lua_ffi_worker_pid(void);
    int ngx_lua_ffi_worker_id(void);
    int ngx_lua_ffi_worker_count(void);
    int ngx_lua_ffi_worker_exiting(void);
]]

ngx.worker = {
    pid = function() return C.ngx_lua_ffi_worker_pid() end,
    id = function()
        local id = C.ngx_lua_ffi_worker_id()
        if id < 0 then
            return nil
        end
        return id
    end,
    count = function() return C.ngx_lua_ffi_worker_count() end,
    exiting = function() return C.ngx_lua_ffi_worker_exiting() == 1 end,
}

return { version = require("resty.core.base").version }
