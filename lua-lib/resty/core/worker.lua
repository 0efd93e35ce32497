-- ngx.worker.*
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local get_size_ptr, get_string_buf = base.get_size_ptr, base.get_string_buf
local tonumber = tonumber

ffi.cdef [[
    int ngx_lua_ffi_worker_pid(void);
    int ngx_lua_ffi_worker_id(void);
    int ngx_lua_ffi_worker_count(void);
    int ngx_lua_ffi_worker_exiting(void);
    int ngx_lua_ffi_worker_pids(int *pids, size_t *len);
]]

local int_size = ffi.sizeof("int")
local intp = ffi.typeof("int *")

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
    pids = function()
        local phase = ngx.get_phase()
        if phase == "init" or phase == "init_worker" then
            return nil, "API disabled in the current context"
        end
        local pids = {}
        -- old and new workers overlap during a reload
        local room = C.ngx_lua_ffi_worker_count() * 4
        if room == 0 then
            return pids
        end
        local len = get_size_ptr()
        len[0] = room
        local buf = ffi.cast(intp, get_string_buf(room * int_size))
        if C.ngx_lua_ffi_worker_pids(buf, len) == 0 then
            for i = 1, tonumber(len[0]) do
                pids[i] = buf[i - 1]
            end
        end
        return pids
    end,
}

return { version = base.version }
