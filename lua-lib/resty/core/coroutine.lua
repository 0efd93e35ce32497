-- coroutine.resume/wrap that let an API wait (ngx.sleep, I/O) inside a
-- user coroutine: the scheduler's yield marker is passed up to the entry
-- thread, and the value it is resumed with is passed back down, so the
-- request suspends as a whole and the same user coroutine continues later.
-- A plain coroutine.yield still returns to its resumer.
local base = require "resty.core.base"
local MARKER = base.YIELD_MARKER
local co_create, co_resume, co_yield, co_status =
    coroutine.create, coroutine.resume, coroutine.yield, coroutine.status
local select, unpack, error = select, unpack, error

local function pack(...)
    return { n = select("#", ...), ... }
end

local function resume(co, ...)
    local res = pack(co_resume(co, ...))
    while res[1] and res[2] == MARKER and co_status(co) == "suspended" do
        local back = pack(co_yield(MARKER))
        res = pack(co_resume(co, unpack(back, 1, back.n)))
    end
    return unpack(res, 1, res.n)
end

local function wrap(f)
    local co = co_create(f)
    return function(...)
        local res = pack(resume(co, ...))
        if res[1] then
            return unpack(res, 2, res.n)
        end
        error(res[2], 0)
    end
end

coroutine._yield = co_yield
coroutine.resume = resume
coroutine.wrap = wrap

return { version = base.version }
