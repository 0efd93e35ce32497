-- ngx.arg: in set_by_lua*, the directive's arguments; in body_filter_by_lua*,
-- [1] the chunk and [2] the eof flag. Its metamethods are C functions
-- (src/ffi/param.rs): handler chunks are interpreted, and from the
-- interpreter one C call costs less than a Lua function making FFI calls.
local c = require "ngx_lua.arg"
local base = require "resty.core.base"

-- An array part of two (always empty) slots: LuaJIT finds [1] and [2]
-- missing there before calling the metamethods, instead of hashing the
-- number into the empty hash part first.
ngx.arg = setmetatable(base.new_tab(2, 0), { __index = c.index, __newindex = c.newindex })

return { version = base.version }
