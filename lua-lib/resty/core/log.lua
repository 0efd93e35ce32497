-- ngx.log and print: "[lua] file:line: func(): message", formatted only
-- when the log accepts the level.
local ffi = require "ffi"
local C = ffi.C
local getinfo = debug.getinfo
local type, tostring, select, error, concat = type, tostring, select, error, table.concat
local getmetatable = getmetatable
local NOTICE = 6

ffi.cdef [[
    int ngx_lua_ffi_log_level(void);
    int ngx_lua_ffi_log(int level, const char *msg, size_t len);
]]

local parts = {}

local function log_at(is_print, level, ...)
    local depth = 3
    local n = select("#", ...)
    local info = getinfo(depth, "Sln")
    local i0 = 1
    if info then
        -- upstream logs the base name of the source and the function name
        -- of Lua functions only
        local src = info.short_src
        local base = src:match("[^/\\]*$") or src
        local head = "[lua] " .. base .. ":" .. info.currentline .. ": "
        if info.namewhat ~= "" and info.what == "Lua" and info.name then
            head = head .. info.name .. "(): "
        end
        parts[1] = head
        i0 = 2
    end
    for i = 1, n do
        local v = select(i, ...)
        local t = type(v)
        if t == "string" then
            parts[i0 + i - 1] = v
        elseif t == "number" or t == "boolean" or t == "nil" then
            parts[i0 + i - 1] = tostring(v)
        elseif t == "userdata" and v == ngx.null then
            parts[i0 + i - 1] = "null"
        elseif t == "table" then
            local mt = getmetatable(v)
            if not (mt and mt.__tostring) then
                for j = 1, i0 + n - 1 do parts[j] = nil end
                error("bad argument #" .. i .. " to '" .. (is_print and "print" or "log")
                      .. "' (expected table to have __tostring metamethod)", depth)
            end
            parts[i0 + i - 1] = tostring(v)
        else
            for j = 1, i0 + n - 1 do parts[j] = nil end
            error("bad argument #" .. i .. " to '" .. (is_print and "print" or "log")
                  .. "' (string, number, boolean, or nil expected, got "
                  .. t .. ")", depth)
        end
    end
    local msg = concat(parts, "", 1, i0 + n - 1)
    for j = 1, i0 + n - 1 do parts[j] = nil end
    C.ngx_lua_ffi_log(level, msg, #msg)
end

function ngx.log(level, ...)
    if type(level) ~= "number" then
        error("bad argument #1 to 'log' (number expected, got " .. type(level) .. ")", 2)
    end
    if level < 0 or level > 8 then
        error("bad log level: " .. level, 2)
    end
    if level > C.ngx_lua_ffi_log_level() then
        return
    end
    -- not a tail call: log_at looks up its caller's caller
    log_at(false, level, ...)
end

function print(...)
    if NOTICE > C.ngx_lua_ffi_log_level() then
        return
    end
    log_at(true, NOTICE, ...)
end

return { version = require("resty.core.base").version }
