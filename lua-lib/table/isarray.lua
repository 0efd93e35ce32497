-- OpenResty LuaJIT's table.isarray on a stock LuaJIT: true when every key
-- is an integral number (an empty table counts; holes are allowed), as
-- OpenResty defines it.
local next, type, error = next, type, error

return function(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'isarray' (table expected, got " .. type(t) .. ")", 2)
    end
    for k in next, t do
        if type(k) ~= "number" or k % 1 ~= 0 then
            return false
        end
    end
    return true
end
