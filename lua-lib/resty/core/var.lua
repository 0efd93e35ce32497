-- ngx.var: nginx variables by name, regex captures by number.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf, get_string_buf = base.get_errbuf, base.get_string_buf
local FFI_OK, FFI_DECLINED = base.FFI_OK, base.FFI_DECLINED
local type, tostring, error = type, tostring, error

ffi.cdef [[
    int ngx_lua_ffi_var_get(const char *name, size_t len, int capture_id,
        u_char *lowcase, const u_char **value, int *value_len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_var_set(const char *name, size_t len, u_char *lowcase,
        const char *value, size_t value_len, int is_nil,
        u_char *err, size_t *errlen);
]]

local value_ptr = ffi.new("const u_char *[1]")
local value_len = ffi.new("int[1]")

local function var_get(_, name)
    local err, errlen = get_errbuf()
    local rc
    if type(name) == "number" then
        rc = C.ngx_lua_ffi_var_get(nil, 0, name, nil, value_ptr, value_len, err, errlen)
    else
        if type(name) ~= "string" then
            error("bad variable name", 2)
        end
        rc = C.ngx_lua_ffi_var_get(name, #name, 0, get_string_buf(#name), value_ptr,
                                   value_len, err, errlen)
    end
    if rc == FFI_OK then
        return ffi_str(value_ptr[0], value_len[0])
    end
    if rc == FFI_DECLINED then
        return nil
    end
    error(ffi_str(err, errlen[0]), 2)
end

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

ngx.var = setmetatable({}, { __index = var_get, __newindex = var_set })

return { version = base.version }
