-- OpenResty LuaJIT's table.nkeys on a stock LuaJIT (src/ffi/table.rs).
local c_nkeys = require("ngx_lua.table").nkeys
local type, error = type, error

return function(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'nkeys' (table expected, got " .. type(t) .. ")", 2)
    end
    return c_nkeys(t)
end
