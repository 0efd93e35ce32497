-- Warn when handler code writes a global: globals are shared by every
-- request of the worker (as upstream, the write still happens).
local ngx_log, WARN = ngx.log, ngx.WARN
local get_phase = ngx.get_phase
local rawset, tostring = rawset, tostring
local traceback = debug.traceback

setmetatable(_G, {
    __newindex = function(t, k, v)
        rawset(t, k, v)
        local phase = get_phase()
        if phase == "init" or phase == "init_worker" then
            return
        end
        ngx_log(WARN, "writing a global Lua variable ('", tostring(k),
                "') which may lead to race conditions between concurrent "
                .. "requests, so prefer the use of 'local' variables",
                traceback("", 2))
    end,
})

return { version = require("resty.core.base").version }
