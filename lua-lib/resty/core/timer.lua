-- ngx.timer: callbacks kept here by id; the module arms nginx timers and
-- runs `run(id, premature, every)` in a fresh entry thread when one fires.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local c_add = require("ngx_lua.timer").add
local type, select, error, tonumber, unpack = type, select, error, tonumber, unpack
-- 2^63: milliseconds at or beyond it do not fit nginx's timer arithmetic.
local MSEC_LIMIT = 2 ^ 63

ffi.cdef [[
    int ngx_lua_ffi_timer_count(int running);
]]

local registry = debug.getregistry()
local callbacks = {}
registry.ngx_lua_timers = callbacks
local next_id = 0

registry.ngx_lua_timer_run = function(id, premature, every)
    local cb = callbacks[id]
    if not cb then
        return
    end
    if not every or premature then
        callbacks[id] = nil
    end
    return cb[1](premature, unpack(cb, 2, cb.n))
end

local function add(every, name, ...)
    local n = select("#", ...)
    if n < 2 then
        error("expecting at least 2 arguments but got " .. n, 0)
    end
    local delay, fn = ...
    local d = tonumber(delay)
    if not d then
        error("bad argument #1 to '" .. name .. "' (number expected, got " .. type(delay) .. ")", 0)
    end
    -- NaN would make an `every` timer that fires on every loop turn.
    if d ~= d then
        error("bad argument #1 to '" .. name .. "' (delay must not be NaN)", 0)
    end
    if d < 0 then
        error("bad argument #1 to '" .. name .. "' (delay must not be negative)", 0)
    end
    local ms = d * 1000
    -- Upstream's conversion to ngx_msec_t turns milliseconds beyond its
    -- range (math.huge, 1e300) into 0: `every` refuses them below, `at`
    -- fires at once. Passed on, they would wrap nginx's timer key.
    if ms >= MSEC_LIMIT then
        ms = 0
    end
    if every and ms < 1 then
        error("delay cannot be zero", 0)
    end
    if type(fn) ~= "function" then
        error("bad argument #2 to '" .. name .. "' (Lua function expected)", 0)
    end
    next_id = next_id + 1
    local id = next_id
    callbacks[id] = { n = n - 1, select(2, ...) }
    local ok, err, raise = c_add(id, ms, every and ms or 0)
    if ok then
        -- 1, not true: upstream's C function pushes an integer.
        return 1
    end
    callbacks[id] = nil
    if raise then
        error(err, 0)
    end
    return nil, err
end

ngx.timer = {
    at = function(...) return add(false, "at", ...) end,
    every = function(...) return add(true, "every", ...) end,
    running_count = function() return C.ngx_lua_ffi_timer_count(1) end,
    pending_count = function() return C.ngx_lua_ffi_timer_count(0) end,
}

return { version = base.version }
