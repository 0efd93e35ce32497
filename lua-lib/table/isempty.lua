-- OpenResty LuaJIT's table.isempty on a stock LuaJIT: `next` skips nil
-- values, so a table with no non-nil entry has no first key.
local next, type, error = next, type, error

return function(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'isempty' (table expected, got " .. type(t) .. ")", 2)
    end
    return next(t) == nil
end
