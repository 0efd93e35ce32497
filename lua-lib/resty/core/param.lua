-- ngx.arg: in set_by_lua*, the directive's arguments; in body_filter_by_lua*,
-- [1] the chunk and [2] the eof flag.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local type, tostring, tonumber, error, concat = type, tostring, tonumber, error, table.concat
local get_errbuf = base.get_errbuf
local FFI_OK, FFI_DECLINED, FFI_NO_REQ = base.FFI_OK, base.FFI_DECLINED, base.FFI_NO_REQ_CTX
require "resty.core.phase"
local get_phase = ngx.get_phase

ffi.cdef [[
    int ngx_lua_ffi_set_arg_get(int idx, const u_char **data, size_t *len);
    int ngx_lua_ffi_body_arg_get(const u_char **data, size_t *len);
    int ngx_lua_ffi_body_arg_set(int which, const char *data, size_t len, int eof,
                                 u_char *err, size_t *errlen);
]]

local data = ffi.new("const u_char *[1]")
local len = ffi.new("size_t[1]")

local function flatten(v, out)
    local t = type(v)
    if t == "string" or t == "number" then
        out[#out + 1] = tostring(v)
    elseif t == "table" then
        for i = 1, #v do
            flatten(v[i], out)
        end
    elseif t == "boolean" then
        out[#out + 1] = tostring(v)
    elseif v == nil then
        return
    else
        error("bad argument #1 (string, number, nil, boolean, or array table expected, got " .. t .. ")", 3)
    end
end

local arg = setmetatable({}, {
    __index = function(_, i)
        local rc = C.ngx_lua_ffi_set_arg_get(tonumber(i) or 0, data, len)
        if rc == FFI_OK then
            return ffi_str(data[0], len[0])
        end
        if rc == FFI_DECLINED then
            return nil
        end
        local eof = C.ngx_lua_ffi_body_arg_get(data, len)
        if eof >= 0 then
            if i == 1 then
                return ffi_str(data[0], len[0])
            elseif i == 2 then
                return eof == 1
            end
            return nil
        end
        -- Neither set_by_lua* nor a body filter: ngx.arg means nothing here.
        if get_phase() == "init" then
            error("no request found", 2)
        end
        error("API disabled in the current context", 2)
    end,
    __newindex = function(_, i, v)
        local err, errlen = get_errbuf()
        local s, eof = nil, 0
        if i == 1 and type(v) == "string" then
            s = v
        else
            -- The phase first (upstream checks it before the index and
            -- the value), then the rest.
            local rc = C.ngx_lua_ffi_body_arg_set(0, nil, 0, 0, err, errlen)
            if rc == FFI_NO_REQ then
                return
            end
            if rc ~= FFI_OK then
                error(ffi_str(err, errlen[0]), 2)
            end
            if i == 1 then
                local out = {}
                flatten(v, out)
                s = concat(out)
            elseif i == 2 then
                eof = v and 1 or 0
            else
                error("bad index: " .. tostring(i), 2)
            end
            err, errlen = get_errbuf()
        end
        local rc = C.ngx_lua_ffi_body_arg_set(i, s, s and #s or 0, eof, err, errlen)
        if rc ~= FFI_OK and rc ~= FFI_NO_REQ then
            error(ffi_str(err, errlen[0]), 2)
        end
    end,
})

ngx.arg = arg

return { version = base.version }
