-- coroutine.resume/wrap that let an API wait (ngx.sleep, I/O) inside a
-- user coroutine: the scheduler's yield marker is passed up to the entry
-- thread, and the value it is resumed with is passed back down, so the
-- request suspends as a whole and the same user coroutine continues later.
-- A plain coroutine.yield still returns to its resumer.
--
-- As upstream, create/resume/wrap/yield/status raise "API disabled in the
-- context of ..." where Lua may not yield (set_by_lua*, log_by_lua*,
-- init_worker_by_lua*, ...); filters and init_by_lua* keep plain Lua's.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local FFI_OK = base.FFI_OK
local MARKER = base.YIELD_MARKER
local thread_status = require("ngx_lua.thread").status
local co_create, co_resume, co_yield, co_status, co_wrap, co_running =
    coroutine.create, coroutine.resume, coroutine.yield, coroutine.status, coroutine.wrap,
    coroutine.running
local error, type = error, type

ffi.cdef [[
    int ngx_lua_ffi_coroutine_check(u_char *err, size_t *errlen);
]]

local PLAIN = 1

-- Raises at the level of whoever called the coroutine function; returns
-- PLAIN where plain Lua's functions apply.
local function check()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_coroutine_check(err, errlen)
    if rc ~= FFI_OK and rc ~= PLAIN then
        error(ffi_str(err, errlen[0]), 3)
    end
    return rc
end

-- While an API waits inside a user coroutine, LuaJIT calls it and each of
-- its resumers "suspended"; upstream calls the waiting one "running" and
-- its resumers "normal", and refuses to resume them (another light thread
-- could otherwise hand the waiting API a stray value).
local waiting = setmetatable({}, { __mode = "k" })
local resuming = setmetatable({}, { __mode = "k" })

local function status_of(co)
    if resuming[co] then
        return "normal"
    end
    if waiting[co] then
        return "running"
    end
    return thread_status(co) or co_status(co)
end

local function waited(co, me, ...)
    waiting[co] = nil
    resuming[me] = nil
    return co_resume(co, ...)
end

-- Values flow through varargs and tail calls: no table per resume.
-- `...` is passed on whole: a coroutine that returned nothing gives
-- `true` alone, not `true, nil`.
local function resumed(co, ok, ...)
    if ok and ... == MARKER and co_status(co) == "suspended" then
        -- An API waits inside `co`: suspend our own thread too, and hand
        -- what we are resumed with back down to `co`.
        local me = co_running()
        waiting[co] = true
        resuming[me] = true
        return resumed(co, waited(co, me, co_yield(MARKER)))
    end
    return ok, ...
end

-- LuaJIT words a normal coroutine's refusal as for a running one;
-- upstream's own resume names the status.
local function refusal(co)
    if type(co) == "thread" then
        local st = status_of(co)
        if st == "normal" or st == "running" and co ~= co_running() then
            return "cannot resume " .. st .. " coroutine"
        end
    end
end

local function resume(co, ...)
    check()
    local err = refusal(co)
    if err then
        return false, err
    end
    return resumed(co, co_resume(co, ...))
end

-- An error a wrapped coroutine passes up is recorded for its resumer, so
-- that the thread's abort traceback starts in the coroutine that raised it
-- ("coroutine 0:"), as upstream's (read by src/lua/raw.rs wrap_failures).
local failed = setmetatable({}, { __mode = "k" })
debug.getregistry()["ngx_lua.wrap_failed"] = failed

local function wrapped(co, ok, ...)
    if ok then
        return ...
    end
    local err = ...
    failed[co_running()] = { co, err }
    error(err, 0)
end
-- The record holds only while the resumer failed in this very function
-- (not when it caught the error and failed later).
failed.raiser = wrapped

local function wrap(f)
    if check() == PLAIN then
        -- Its errors carry the caller's position, as upstream's there.
        return co_wrap(f)
    end
    local co = co_create(f)
    return function(...)
        check()
        -- Upstream's wrapper refuses a coroutine that cannot be resumed
        -- (a dead one too) by returning false and the reason, as its
        -- resume does; only an error inside the coroutine is raised.
        local err = refusal(co)
        if not err and co_status(co) == "dead" then
            err = "cannot resume dead coroutine"
        end
        if err then
            return false, err
        end
        return wrapped(co, resumed(co, co_resume(co, ...)))
    end
end

local function create(f)
    check()
    return co_create(f)
end

local function yield(...)
    check()
    return co_yield(...)
end

-- A light thread that finished but was not waited for is a "zombie"; a
-- killed one is "dead".
local function status(co)
    check()
    return status_of(co)
end

-- Upstream's table, entry for entry (suites count them): the originals
-- under one underscore, these versions under their names and under two
-- underscores, and no isyieldable.
coroutine._create, coroutine._resume, coroutine._yield = co_create, co_resume, co_yield
coroutine._status, coroutine._wrap = co_status, co_wrap
coroutine.create, coroutine.__create = create, create
coroutine.resume, coroutine.__resume = resume, resume
coroutine.wrap, coroutine.__wrap = wrap, wrap
coroutine.yield, coroutine.__yield = yield, yield
coroutine.status, coroutine.__status = status, status
coroutine.isyieldable = nil

return { version = base.version }
