-- ngx.thread: light threads scheduled with the handler's entry thread.
local c = require "ngx_lua.thread"
local base = require "resty.core.base"
local c_spawn, c_wait = c.spawn, c.wait
local yield_to_scheduler = base.yield_to_scheduler

local function spawn(...)
    local t, must_yield = c_spawn(...)
    if must_yield then
        -- ngx.exit (or an error) in the new thread ended the handler, or
        -- other threads were posted before this one: they run first.
        yield_to_scheduler()
    end
    return t
end

-- c_wait returns the results at once, or -2: yield until a thread ends,
-- and return what the scheduler resumes us with.
local function waited(first, ...)
    if first == -2 then
        return yield_to_scheduler()
    end
    return first, ...
end

local function wait(...)
    return waited(c_wait(...))
end

ngx.thread = { spawn = spawn, wait = wait, kill = c.kill }
ngx.on_abort = c.on_abort

return { version = base.version }
