-- ngx.ctx: one Lua table per request, kept in a registry table indexed by
-- a slot the module assigns and frees with the request.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local type, error = type, error

ffi.cdef [[
    int ngx_lua_ffi_ctx_ref(int *is_new);
]]

local ctx_tables = debug.getregistry().ngx_lua_ctx_tables
local is_new = ffi.new("int[1]")

-- `reuse`: the table to become the request's ngx.ctx when it has none yet
-- (resty.core.ctx's get_ctx_table(ctx), which lets callers recycle one).
local function get_ctx(reuse)
    local ref = C.ngx_lua_ffi_ctx_ref(is_new)
    if ref < 0 then
        error("no request found", 2)
    end
    local t = ctx_tables[ref]
    if is_new[0] == 1 or t == nil then
        t = reuse or {}
        ctx_tables[ref] = t
    end
    return t
end

local function set_ctx(v)
    if type(v) ~= "table" then
        error("ctx should be a table while getting a " .. type(v), 2)
    end
    local ref = C.ngx_lua_ffi_ctx_ref(is_new)
    if ref < 0 then
        error("no request found", 2)
    end
    ctx_tables[ref] = v
end

base.ngx_getters.ctx = get_ctx
base.ngx_setters.ctx = set_ctx

return { version = base.version, get_ctx_table = get_ctx }
