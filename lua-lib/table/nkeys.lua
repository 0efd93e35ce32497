-- OpenResty LuaJIT's table.nkeys on a stock LuaJIT. A loop over `next`
-- is the fast way a stock LuaJIT offers (compiled in traces, a fast
-- function in the interpreter): measured 3-4 times faster than walking the
-- table with lua_next from C (docs/design.md).
local next, type, error = next, type, error

return function(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'nkeys' (table expected, got " .. type(t) .. ")", 2)
    end
    local n = 0
    for _ in next, t do
        n = n + 1
    end
    return n
end
