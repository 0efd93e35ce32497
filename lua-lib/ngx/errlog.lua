-- ngx.errlog: the lines lua_capture_error_log keeps, the error log's
-- level, and logging without the "[lua] file:line:" prefix.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local new_tab = base.new_tab
local type, error, tonumber = type, error, tonumber

ffi.cdef [[
    int ngx_lua_ffi_errlog_set_filter_level(int level, u_char *err, size_t *errlen);
    int ngx_lua_ffi_errlog_get_msg(const char **log, int *level, u_char *err,
        size_t *errlen, double *time);
    int ngx_lua_ffi_errlog_get_sys_filter_level(void);
    int ngx_lua_ffi_raw_log(int level, const u_char *msg, size_t len);
]]

local FFI_ERROR = base.FFI_ERROR
local line = ffi.new("const char *[1]")
local level = ffi.new("int[1]")
local time = ffi.new("double[1]")

local _M = { version = base.version }

function _M.set_filter_level(lvl)
    if not lvl then
        return nil, [[missing "level" argument]]
    end
    local err, errlen = base.get_errbuf()
    if C.ngx_lua_ffi_errlog_set_filter_level(lvl, err, errlen) == FFI_ERROR then
        return nil, ffi_str(err, errlen[0])
    end
    return true
end

-- Up to `max` lines (10 by default) as level, time, text triples; a
-- given table is filled and ended with a nil rather than cleared.
function _M.get_logs(max, logs)
    max = max or 10
    if not logs then
        logs = new_tab(max * 3 + 1, 0)
    end
    local n = 0
    for i = 1, max do
        local err, errlen = base.get_errbuf()
        local len = C.ngx_lua_ffi_errlog_get_msg(line, level, err, errlen, time)
        if len == FFI_ERROR then
            return nil, ffi_str(err, errlen[0])
        end
        if len < 0 then
            break
        end
        logs[n + 1] = level[0]
        logs[n + 2] = time[0]
        logs[n + 3] = ffi_str(line[0], len)
        n = n + 3
    end
    logs[n + 1] = nil
    return logs
end

function _M.get_sys_filter_level()
    return tonumber(C.ngx_lua_ffi_errlog_get_sys_filter_level())
end

function _M.raw_log(lvl, msg)
    if type(lvl) ~= "number" then
        error("bad argument #1 to 'raw_log' (must be a number)", 2)
    end
    if type(msg) ~= "string" then
        error("bad argument #2 to 'raw_log' (must be a string)", 2)
    end
    if C.ngx_lua_ffi_raw_log(lvl, msg, #msg) == FFI_ERROR then
        error("bad log level", 2)
    end
end

return _M
