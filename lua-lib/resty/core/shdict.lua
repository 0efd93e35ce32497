-- ngx.shared.DICT: one object per lua_shared_dict zone. The methods
-- (resty.core.shdict_methods) are loaded at the first method lookup on
-- any dict: until then they are no part of the worker's Lua heap (see
-- docs/design.md, "The worker's Lua heap").
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local setmetatable, rawget, rawset, pairs = setmetatable, rawget, rawset, pairs

ffi.cdef [[
    int ngx_lua_ffi_shdict_count(void);
    void *ngx_lua_ffi_shdict_zone(int i, const unsigned char **name, size_t *len);
]]

-- As upstream, the metatable is its own __index, shared by every dict.
-- Its own metatable fills it with the methods when one is first looked
-- up, then goes.
local mt = {}
mt.__index = mt
setmetatable(mt, {
    __index = function(_, k)
        setmetatable(mt, nil)
        for name, f in pairs(require "resty.core.shdict_methods") do
            rawset(mt, name, f)
        end
        return rawget(mt, k)
    end,
})

local shared = {}
local n = C.ngx_lua_ffi_shdict_count()
if n > 0 then
    local name_ptr = ffi.new("const unsigned char *[1]")
    local len = ffi.new("size_t[1]")
    for i = 0, n - 1 do
        local zone = C.ngx_lua_ffi_shdict_zone(i, name_ptr, len)
        if zone ~= nil then
            shared[ffi_str(name_ptr[0], len[0])] = setmetatable({ zone }, mt)
        end
    end
end
ngx.shared = shared

return { version = base.version }
