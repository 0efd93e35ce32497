-- ngx.header: response headers.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf, get_string_buf = base.get_errbuf, base.get_string_buf
local FFI_OK, FFI_DECLINED = base.FFI_OK, base.FFI_DECLINED
local type, tostring, error = type, tostring, error

ffi.cdef [[
    typedef struct { const u_char *data; size_t len; } ngx_lua_ffi_str_t;
    int ngx_lua_ffi_set_resp_header(const char *key, size_t key_len, int is_nil,
        const char *sval, size_t sval_len, const ngx_lua_ffi_str_t *mvals,
        size_t mvals_len, int override, u_char *err, size_t *errlen);
    int ngx_lua_ffi_get_resp_header(const char *key, size_t key_len,
        u_char *buf, ngx_lua_ffi_str_t *values, size_t max,
        u_char *err, size_t *errlen);
]]

local MAX_VALUES = 100
local values = ffi.new("ngx_lua_ffi_str_t[?]", MAX_VALUES)
local mvals_size = 16
local mvals = ffi.new("ngx_lua_ffi_str_t[?]", mvals_size)

-- ngx.header[key] = value, and ngx.resp.add_header (no_override): the
-- first value replaces (or is added), further table values are added.
local function set_resp_header(_, key, value, no_override)
    if type(key) ~= "string" then
        key = tostring(key)
    end
    local err, errlen = get_errbuf()
    local override = no_override and 0 or 1
    local rc
    if value == nil then
        if no_override then
            error("invalid header value", 3)
        end
        rc = C.ngx_lua_ffi_set_resp_header(key, #key, 1, nil, 0, nil, 0, 1, err, errlen)
    elseif type(value) == "table" then
        local n = #value
        if n == 0 and no_override then
            return
        end
        if n > mvals_size then
            mvals_size = n
            mvals = ffi.new("ngx_lua_ffi_str_t[?]", n)
        end
        for i = 1, n do
            local s = value[i]
            if type(s) ~= "string" then
                s = tostring(s)
                value[i] = s
            end
            mvals[i - 1].data = s
            mvals[i - 1].len = #s
        end
        rc = C.ngx_lua_ffi_set_resp_header(key, #key, n == 0 and 1 or 0, nil, 0, mvals, n,
                                           override, err, errlen)
    else
        local s = type(value) == "string" and value or tostring(value)
        rc = C.ngx_lua_ffi_set_resp_header(key, #key, 0, s, #s, nil, 0, override, err, errlen)
    end
    if rc == FFI_OK or rc == FFI_DECLINED then
        return
    end
    error(ffi_str(err, errlen[0]), 2)
end

local function get_header(_, key)
    if type(key) ~= "string" then
        key = tostring(key)
    end
    local err, errlen = get_errbuf()
    local n = C.ngx_lua_ffi_get_resp_header(key, #key, get_string_buf(32), values, MAX_VALUES, err, errlen)
    if n < 0 then
        error(ffi_str(err, errlen[0]), 2)
    end
    if n == 0 then
        return nil
    end
    if n == 1 then
        return ffi_str(values[0].data, values[0].len)
    end
    local t = {}
    for i = 1, n < MAX_VALUES and n or MAX_VALUES do
        t[i] = ffi_str(values[i - 1].data, values[i - 1].len)
    end
    return t
end

ngx.header = setmetatable({}, { __index = get_header, __newindex = set_resp_header })

return { version = base.version, set_resp_header = set_resp_header }
