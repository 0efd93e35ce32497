-- OpenResty LuaJIT's table.clone on a stock LuaJIT (src/ffi/table.rs).
local c_clone = require("ngx_lua.table").clone
local type, error = type, error

return function(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'clone' (table expected, got " .. type(t) .. ")", 2)
    end
    return c_clone(t)
end
