-- ngx.ctx: one Lua table per request, kept in a registry table indexed by
-- a slot the module assigns and frees with the request. The ssl_*_by_lua*
-- handlers of a TLS connection share one table, kept with the connection,
-- which each request's table on that connection reads through.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local type, error, setmetatable = type, error, setmetatable

ffi.cdef [[
    int ngx_lua_ffi_ctx_ref(int *is_new, int *parent);
]]

local ctx_tables = debug.getregistry().ngx_lua_ctx_tables
local is_new = ffi.new("int[1]")
local parent = ffi.new("int[1]")

-- `reuse`: the table to become the request's ngx.ctx when it has none yet
-- (resty.core.ctx's get_ctx_table(ctx), which lets callers recycle one).
local function get_ctx(reuse)
    parent[0] = 0
    local ref = C.ngx_lua_ffi_ctx_ref(is_new, parent)
    if ref < 0 then
        error("no request found", 2)
    end
    local t = ctx_tables[ref]
    local fresh = is_new[0]
    if fresh ~= 0 or t == nil then
        t = reuse or {}
        if fresh == 2 then
            -- the TLS handlers' table: requests read through it
            t.__index = t
        elseif parent[0] > 0 then
            local p = ctx_tables[parent[0]]
            if p then
                setmetatable(t, p)
            end
        end
        ctx_tables[ref] = t
    end
    return t
end

local function set_ctx(v)
    if type(v) ~= "table" then
        error("ctx should be a table while getting a " .. type(v), 2)
    end
    local ref = C.ngx_lua_ffi_ctx_ref(is_new, nil)
    if ref < 0 then
        error("no request found", 2)
    end
    ctx_tables[ref] = v
end

base.ngx_getters.ctx = get_ctx
base.ngx_setters.ctx = set_ctx

return { version = base.version, get_ctx_table = get_ctx }
