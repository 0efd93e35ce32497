-- ngx.timer: callbacks kept here by id (ngx_lua.timer's at and every
-- store them and arm nginx timers); the module runs
-- `run(id, premature, every)` in a fresh entry thread when one fires.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local c_timer = require "ngx_lua.timer"
local unpack = unpack

ffi.cdef [[
    int ngx_lua_ffi_timer_count(int running);
]]

local callbacks = {}

local function run(id, premature, every)
    local cb = callbacks[id]
    if not cb then
        return
    end
    if not every or premature then
        callbacks[id] = nil
    end
    -- { count, function, arguments... } (see ngx_lua.timer's at).
    return cb[2](premature, unpack(cb, 3, cb[1] + 1))
end

c_timer.install(callbacks, run)

ngx.timer = {
    at = c_timer.at,
    every = c_timer.every,
    running_count = function() return C.ngx_lua_ffi_timer_count(1) end,
    pending_count = function() return C.ngx_lua_ffi_timer_count(0) end,
}

return { version = base.version }
