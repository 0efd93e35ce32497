-- ngx.metrics (an extension of ngx-lua-rs): the worker's metrics, as
-- Prometheus text or as a table. Counting of handler runs, time and
-- errors per location is on when some location has `lua_metrics;`.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local tonumber = tonumber
local gmatch, match = string.gmatch, string.match

ffi.cdef [[
    int ngx_lua_ffi_metrics_text(unsigned char **out, size_t *len);
    void ngx_lua_ffi_metrics_free(void *p);
]]

local out = ffi.new("unsigned char *[1]")
local len = ffi.new("size_t[1]")

local _M = { version = base.version }

-- The text `lua_metrics;` serves.
function _M.text()
    if C.ngx_lua_ffi_metrics_text(out, len) ~= base.FFI_OK then
        return nil, "no memory"
    end
    local s = ffi_str(out[0], len[0])
    C.ngx_lua_ffi_metrics_free(out[0])
    return s
end

-- A table from each series (`name{labels}`, as in the text) to its value.
function _M.collect()
    local text, err = _M.text()
    if not text then
        return nil, err
    end
    local t = {}
    for line in gmatch(text, "[^\n]+") do
        if line:byte(1) ~= 35 then -- '#'
            local series, value = match(line, "^(.*) (%S+)$")
            if series then
                t[series] = tonumber(value)
            end
        end
    end
    return t
end

return _M
