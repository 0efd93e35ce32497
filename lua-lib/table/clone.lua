-- OpenResty LuaJIT's table.clone on a stock LuaJIT: a shallow copy
-- without the metatable, sized up front (counting first is cheaper than
-- the rehashes a growing table goes through).
local new_tab = require "table.new"
local next, type, error = next, type, error

return function(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'clone' (table expected, got " .. type(t) .. ")", 2)
    end
    local n = 0
    for _ in next, t do
        n = n + 1
    end
    local narr = #t
    local c = new_tab(narr, n > narr and n - narr or 0)
    for k, v in next, t do
        c[k] = v
    end
    return c
end
