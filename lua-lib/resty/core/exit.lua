-- ngx.exit and ngx.sleep.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local yield_to_scheduler = base.yield_to_scheduler
local FFI_OK, FFI_DONE, FFI_AGAIN = base.FFI_OK, base.FFI_DONE, base.FFI_AGAIN
local type, tonumber, error, select, floor = type, tonumber, error, select, math.floor
local ceil = math.ceil
local ngx = ngx
-- 2^63: the first value beyond the range of a 64-bit integer.
local MSEC_LIMIT = 2 ^ 63

ffi.cdef [[
    int ngx_lua_ffi_exit(int status, u_char *err, size_t *errlen);
    int ngx_lua_ffi_sleep(long ms, u_char *err, size_t *errlen);
]]

function ngx.exit(rc)
    local n = type(rc) == "number" and rc or tonumber(rc)
    if not n then
        error("bad argument #1 to 'exit' (number expected, got " .. type(rc) .. ")", 2)
    end
    local err, errlen = get_errbuf()
    local r = C.ngx_lua_ffi_exit(n, err, errlen)
    if r == FFI_OK then
        -- The scheduler ends the handler; this coroutine is not resumed.
        return yield_to_scheduler()
    end
    if r == FFI_DONE then
        return
    end
    error(ffi_str(err, errlen[0]), 2)
end

function ngx.sleep(...)
    local n = select("#", ...)
    if n ~= 1 then
        error("attempt to pass " .. n .. " arguments, but accepted 1", 2)
    end
    local sec = ...
    local s = tonumber(sec)
    if not s then
        error("bad argument #1 to 'sleep' (number expected, got " .. type(sec) .. ")", 2)
    end
    -- As upstream's conversion to ngx_int_t: NaN and milliseconds beyond
    -- its range become its minimum, which is refused as negative.
    local ms = s * 1000
    if ms >= 0 and ms < MSEC_LIMIT then
        ms = floor(ms)
    elseif ms < 0 and ms > -MSEC_LIMIT then
        ms = ceil(ms)
    else
        ms = -MSEC_LIMIT
    end
    local err, errlen = get_errbuf()
    local r = C.ngx_lua_ffi_sleep(ms, err, errlen)
    if r == FFI_AGAIN then
        yield_to_scheduler()
        return
    end
    error(ffi_str(err, errlen[0]), 2)
end

return { version = base.version }
