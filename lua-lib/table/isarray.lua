-- OpenResty LuaJIT's table.isarray on a stock LuaJIT (src/ffi/table.rs).
local c_isarray = require("ngx_lua.table").isarray
local type, error = type, error

return function(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'isarray' (table expected, got " .. type(t) .. ")", 2)
    end
    return c_isarray(t)
end
