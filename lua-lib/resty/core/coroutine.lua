-- coroutine.resume/wrap that let an API wait (ngx.sleep, I/O) inside a
-- user coroutine: the scheduler's yield marker is passed up to the entry
-- thread, and the value it is resumed with is passed back down, so the
-- request suspends as a whole and the same user coroutine continues later.
-- A plain coroutine.yield still returns to its resumer.
local base = require "resty.core.base"
local MARKER = base.YIELD_MARKER
local co_create, co_resume, co_yield, co_status =
    coroutine.create, coroutine.resume, coroutine.yield, coroutine.status
local error = error

-- Values flow through varargs and tail calls: no table per resume.
local function resumed(co, ok, first, ...)
    if ok and first == MARKER and co_status(co) == "suspended" then
        -- An API waits inside `co`: suspend our own thread too, and hand
        -- what we are resumed with back down to `co`.
        return resumed(co, co_resume(co, co_yield(MARKER)))
    end
    return ok, first, ...
end

local function resume(co, ...)
    return resumed(co, co_resume(co, ...))
end

local function wrapped(ok, ...)
    if ok then
        return ...
    end
    error((...), 0)
end

local function wrap(f)
    local co = co_create(f)
    return function(...)
        return wrapped(resume(co, ...))
    end
end

coroutine._yield = co_yield
coroutine.resume = resume
coroutine.wrap = wrap

return { version = base.version }
