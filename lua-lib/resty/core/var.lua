-- ngx.var: nginx variables by name, regex captures by number.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf, get_string_buf = base.get_errbuf, base.get_string_buf
local FFI_OK = base.FFI_OK
local type, tostring, error = type, tostring, error

ffi.cdef [[
    int ngx_lua_ffi_var_set(const char *name, size_t len, u_char *lowcase,
        const char *value, size_t value_len, int is_nil,
        u_char *err, size_t *errlen);
]]

local function var_set(_, name, value)
    if type(name) ~= "string" then
        error("bad variable name", 2)
    end
    local is_nil = 0
    if value == nil then
        is_nil = 1
    elseif type(value) ~= "string" then
        -- any other value is stored as its tostring(), as upstream does
        value = tostring(value)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_var_set(name, #name, get_string_buf(#name), value,
                                     value and #value or 0, is_nil, err, errlen)
    if rc ~= FFI_OK then
        error(ffi_str(err, errlen[0]), 2)
    end
end

-- Reading is a C function (src/ffi/var.rs says why).
local c = require "ngx_lua.var"
ngx.var = setmetatable({}, { __index = c.index, __newindex = var_set })

return { version = base.version }
