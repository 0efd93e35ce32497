-- ngx.escape_uri, ngx.unescape_uri, ngx.encode_args, ngx.decode_args.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local ffi_new = ffi.new
local get_string_buf = base.get_string_buf
local new_tab = base.new_tab
local clear_tab = base.clear_tab
local type, tostring, tonumber, error, next, select =
      type, tostring, tonumber, error, next, select
local concat = table.concat
local floor = math.floor

ffi.cdef [[
    size_t ngx_lua_ffi_uri_escaped_length(const u_char *src, size_t len, int type);
    size_t ngx_lua_ffi_escape_uri(const u_char *src, size_t len, u_char *dst,
                                  size_t dlen, int type);
    size_t ngx_lua_ffi_unescape_uri(const u_char *src, size_t len, u_char *dst);
    size_t ngx_lua_ffi_args_max_pairs(const u_char *src, size_t len);
    int ngx_lua_ffi_decode_args(const u_char *src, size_t len, u_char *dst,
                                size_t *pairs, size_t cap, int max, size_t *n);
]]

local ESCAPE_URI_COMPONENT = 2
local ESCAPE_MAIL_AUTH = 6

local function escape(s, kind)
    local slen = #s
    local dlen = C.ngx_lua_ffi_uri_escaped_length(s, slen, kind)
    if dlen == slen then
        return s
    end
    local dst = get_string_buf(dlen)
    C.ngx_lua_ffi_escape_uri(s, slen, dst, dlen, kind)
    return ffi_str(dst, dlen)
end

function ngx.escape_uri(s, kind)
    if type(s) ~= "string" then
        s = s and tostring(s) or ""
    end
    if kind == nil then
        kind = ESCAPE_URI_COMPONENT
    else
        if type(kind) ~= "number" then
            error("\"type\" is not a number", 3)
        end
        if kind < 0 or kind > ESCAPE_MAIL_AUTH then
            error("\"type\" " .. kind .. " out of range", 3)
        end
    end
    return escape(s, kind)
end

function ngx.unescape_uri(s)
    if type(s) ~= "string" then
        s = s and tostring(s) or ""
    end
    local slen = #s
    local dst = get_string_buf(slen)
    return ffi_str(dst, C.ngx_lua_ffi_unescape_uri(s, slen, dst))
end

-- One scratch list of "k=v" pieces, reused by every call.
local pieces = new_tab(16, 0)

-- A table as a query string, with upstream's one set of rules for
-- ngx.encode_args, ngx.req.set_uri_args, ngx.exec and capture's `args`:
-- string keys only, in table order; string and number values escaped as
-- URI components; `true` gives a bare key, `false` nothing; a list value
-- repeats the key. Returns the string, or nil and upstream's error text.
local function encode_args(t)
    local n = 0
    for k, v in next, t do
        if type(k) ~= "string" then
            clear_tab(pieces)
            return nil, 'attempt to use a non-string key in the "args" option table'
        end
        local ek = escape(k, ESCAPE_URI_COMPONENT)
        local tv = type(v)
        if tv == "string" or tv == "number" then
            n = n + 1
            pieces[n] = ek .. "=" .. escape(tostring(v), ESCAPE_URI_COMPONENT)
        elseif tv == "boolean" then
            if v then
                n = n + 1
                pieces[n] = ek
            end
        elseif tv == "table" then
            for _, x in next, v do
                local tx = type(x)
                if tx == "boolean" then
                    if x then
                        n = n + 1
                        pieces[n] = ek
                    end
                elseif tx == "string" or tx == "number" then
                    n = n + 1
                    pieces[n] = ek .. "=" .. escape(tostring(x), ESCAPE_URI_COMPONENT)
                else
                    clear_tab(pieces)
                    return nil, "attempt to use " .. tx .. " as query arg value"
                end
            end
        else
            clear_tab(pieces)
            return nil, "attempt to use " .. tv .. " as query arg value"
        end
    end
    local s = concat(pieces, "&", 1, n)
    clear_tab(pieces)
    return s
end
base.encode_args = encode_args

-- encode_args and decode_args are C functions upstream: their argument
-- errors name them as their caller called them.
local arg_error = base.arg_error

function ngx.encode_args(...)
    local nargs = select("#", ...)
    local t = ...
    if nargs ~= 1 then
        error("expecting 1 argument but seen " .. nargs, 2)
    end
    if type(t) ~= "table" then
        arg_error(1, "table expected, got " .. type(t))
    end
    local s, err = encode_args(t)
    if not s then
        error(err, 2)
    end
    return s
end

local PAIRS_CAP = 128
local pairs_buf = ffi_new("size_t[?]", 4 * PAIRS_CAP)
local npairs = ffi_new("size_t[1]")
local MAX_ARGS = 100

function ngx.decode_args(...)
    local nargs = select("#", ...)
    local str, max_arg = ...
    if nargs < 1 or nargs > 2 then
        error("expecting 1 or 2 arguments but seen " .. nargs, 2)
    end
    local ts = type(str)
    if ts == "number" then
        str = tostring(str)
    elseif ts ~= "string" then
        arg_error(1, "string expected, got " .. ts)
    end
    local max = MAX_ARGS
    if nargs == 2 then
        max = tonumber(max_arg)
        if not max then
            arg_error(2, "number expected, got " .. type(max_arg))
        end
        max = floor(max)
    end

    local len = #str
    local cap = tonumber(C.ngx_lua_ffi_args_max_pairs(str, len))
    if max > 0 and max < cap then
        cap = max
    end
    local pairs = pairs_buf
    if cap > PAIRS_CAP then
        pairs = ffi_new("size_t[?]", 4 * cap)
    end
    local dst = get_string_buf(len)
    local truncated = C.ngx_lua_ffi_decode_args(str, len, dst, pairs, cap, max, npairs)

    local n = tonumber(npairs[0])
    local res = new_tab(0, n)
    for i = 0, 4 * (n - 1), 4 do
        local ks, ke, vs = pairs[i], pairs[i + 1], pairs[i + 2]
        local key = ffi_str(dst + ks, ke - ks)
        local val
        if vs > len then
            val = true
        else
            val = ffi_str(dst + vs, pairs[i + 3] - vs)
        end
        local old = res[key]
        if old == nil then
            res[key] = val
        elseif type(old) == "table" then
            old[#old + 1] = val
        else
            res[key] = { old, val }
        end
    end
    if truncated == 1 then
        return res, "truncated"
    end
    return res
end

return { version = base.version }
