-- ndk.set_var.DIRECTIVE: the set_var directives of NDK-based modules
-- (ngx_set_misc, ...) as Lua functions. Like upstream built without the
-- NDK, there is no `ndk` table when no NDK module is loaded.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local type, tostring, error, setmetatable = type, tostring, error, setmetatable

ffi.cdef [[
    int ngx_lua_ffi_ndk_available(void);
    int ngx_lua_ffi_ndk_lookup_directive(const u_char *name, size_t len, void **func);
    int ngx_lua_ffi_ndk_set_var_get(void *func, const u_char *arg, size_t arg_len,
        const u_char **value, size_t *value_len);
]]

if C.ngx_lua_ffi_ndk_available() == 0 then
    return { version = base.version }
end

local func_p = ffi.new("void *[1]")
local value_p = ffi.new("const u_char *[1]")
local len_p = ffi.new("size_t[1]")

local set_var = setmetatable({}, {
    __index = function(_, var)
        if type(var) ~= "string" then
            var = tostring(var)
        end
        if C.ngx_lua_ffi_ndk_lookup_directive(var, #var, func_p) ~= base.FFI_OK then
            error('ndk.set_var: directive "' .. var
                  .. '" not found or does not use ndk_set_var_value', 2)
        end
        local func = func_p[0]
        return function(arg)
            if type(arg) ~= "string" then
                arg = tostring(arg)
            end
            local rc = C.ngx_lua_ffi_ndk_set_var_get(func, arg, #arg, value_p, len_p)
            if rc == base.FFI_NO_REQ_CTX then
                error("no request found", 2)
            end
            if rc ~= base.FFI_OK then
                error("calling directive " .. var .. " failed with code " .. rc, 2)
            end
            return ffi_str(value_p[0], len_p[0])
        end
    end,
    __newindex = function()
        error("not allowed", 2)
    end,
})

ndk = { set_var = set_var }
package.loaded.ndk = ndk

return { version = base.version }
