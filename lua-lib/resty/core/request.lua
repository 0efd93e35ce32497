-- ngx.req.*: method, version, raw header, headers, URI and query args.
local ffi = require "ffi"
local base = require "resty.core.base"
require "resty.core.response" -- ngx_lua_ffi_str_t
require "resty.core.uri" -- base.encode_args
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf, get_string_buf = base.get_errbuf, base.get_string_buf
local new_tab, clear_tab = base.new_tab, base.clear_tab
local yield_to_scheduler = base.yield_to_scheduler
local FFI_OK, FFI_DONE, FFI_AGAIN, FFI_DECLINED =
    base.FFI_OK, base.FFI_DONE, base.FFI_AGAIN, base.FFI_DECLINED
local type, tostring, tonumber, error, pairs, ipairs, select =
    type, tostring, tonumber, error, pairs, ipairs, select
local setmetatable, rawget = setmetatable, rawget
local str_lower, str_gsub, str_find = string.lower, string.gsub, string.find
local tab_concat = table.concat
local ngx = ngx

ffi.cdef [[
    typedef struct {
        const u_char *key; int key_len;
        const u_char *value; int value_len;
    } ngx_lua_ffi_kv_t;

    int ngx_lua_ffi_req_get_method(const u_char **name, int *len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_set_method(int method, u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_http_version(u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_start_time(long *sec, long *msec, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_req_is_internal(u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_raw_header_len(int no_request_line, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_req_raw_header(int no_request_line, u_char *buf,
        size_t size, u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_get_headers_count(int max, int *truncated,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_get_headers(ngx_lua_ffi_kv_t *out, int count, int raw,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_set_header(const char *key, size_t key_len,
        const ngx_lua_ffi_str_t *vals, size_t nvals, int replace,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_get_querystring_len(u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_get_uri_args(u_char *buf, ngx_lua_ffi_kv_t *out,
        int max, int *truncated, u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_set_uri_args(const char *args, size_t len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_set_uri(const char *uri, size_t len, int jump,
        int binary, u_char *err, size_t *errlen);
    int ngx_lua_ffi_resp_get_headers(ngx_lua_ffi_kv_t *out, int count,
        int max, u_char *buf, int *truncated, u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_get_post_args_len(u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_get_post_args(u_char *buf, size_t size,
        ngx_lua_ffi_kv_t *out, int max, int *truncated, u_char *err,
        size_t *errlen);
]]

local req = ngx.req or {}
ngx.req = req

local MAX_HEADERS = 100
local MAX_ARGS = 100

local name_ptr = ffi.new("const u_char *[1]")
local name_len = ffi.new("int[1]")
local sec_buf = ffi.new("long[1]")
local msec_buf = ffi.new("long[1]")
local truncated_buf = ffi.new("int[1]")
local kv_size = 128
local kv_buf = ffi.new("ngx_lua_ffi_kv_t[?]", kv_size)
local vals_size = 16
local vals_buf = ffi.new("ngx_lua_ffi_str_t[?]", vals_size)

local function kv_array(n)
    if n > kv_size then
        kv_size = n
        kv_buf = ffi.new("ngx_lua_ffi_kv_t[?]", n)
    end
    return kv_buf
end

local function fail(err, errlen, level)
    error(ffi_str(err, errlen[0]), level or 3)
end

function req.get_method()
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_get_method(name_ptr, name_len, err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
    return ffi_str(name_ptr[0], name_len[0])
end

function req.set_method(method)
    if type(method) ~= "number" then
        error("bad argument #1 to 'set_method' (number expected, got "
              .. type(method) .. ")", 2)
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_set_method(method, err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
end

local versions = { [9] = 0.9, [1000] = 1.0, [1001] = 1.1, [2000] = 2.0, [3000] = 3.0 }

function req.http_version()
    local err, errlen = get_errbuf()
    local v = C.ngx_lua_ffi_req_http_version(err, errlen)
    if v < 0 then
        fail(err, errlen)
    end
    return versions[v]
end

function req.start_time()
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_start_time(sec_buf, msec_buf, err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
    return tonumber(sec_buf[0]) + tonumber(msec_buf[0]) / 1000
end

function req.is_internal()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_req_is_internal(err, errlen)
    if rc < 0 then
        fail(err, errlen)
    end
    return rc == 1
end

function req.raw_header(no_request_line)
    local flag = no_request_line and 1 or 0
    local err, errlen = get_errbuf()
    local n = C.ngx_lua_ffi_req_raw_header_len(flag, err, errlen)
    if n < 0 then
        fail(err, errlen)
    end
    local buf = get_string_buf(n)
    n = C.ngx_lua_ffi_req_raw_header(flag, buf, n, err, errlen)
    if n < 0 then
        fail(err, errlen)
    end
    return ffi_str(buf, n)
end

-- Adds a repeated key's value to an args/headers table: repeated keys
-- become arrays. The callers test for a first occurrence inline, which
-- saves a call per pair when the handler runs interpreted.
local function add_repeated(t, k, old, v)
    if type(old) == "table" then
        old[#old + 1] = v
    else
        t[k] = { old, v }
    end
end

-- A headers table from `n` key/value pairs, optionally lower-casing keys.
local function headers_table(out, n, lower)
    local t = new_tab(0, n)
    for i = 0, n - 1 do
        local e = out[i]
        local k, v = ffi_str(e.key, e.key_len), ffi_str(e.value, e.value_len)
        if lower then
            k = str_lower(k)
        end
        local old = rawget(t, k)
        if old == nil then
            t[k] = v
        else
            add_repeated(t, k, old, v)
        end
    end
    return t
end

-- get_headers()'s tables find "Content_Type" and "content-type" alike,
-- and a number key as its string (string.lower takes numbers), as
-- upstream's.
local headers_mt = {
    __index = function(t, k)
        local tk = type(k)
        if tk ~= "string" and tk ~= "number" then
            return nil
        end
        k = str_lower(k)
        local v = rawget(t, k)
        -- string.gsub is not compiled by LuaJIT; string.find (plain) is.
        if v == nil and str_find(k, "_", 1, true) then
            v = rawget(t, (str_gsub(k, "_", "-")))
        end
        return v
    end,
}

-- The `max` argument of get_headers/get_uri_args/get_post_args: `default`
-- when absent, a number otherwise (raising upstream's error at the caller).
local function check_max(max, fname, default)
    if max == nil then
        return default or MAX_HEADERS
    end
    if type(max) ~= "number" then
        error("bad argument #1 to '" .. fname .. "' (number expected, got "
              .. type(max) .. ")", 3)
    end
    if max < 0 then
        return 0
    end
    return max
end

function req.get_headers(max, raw)
    if max == nil then
        max = MAX_HEADERS
    else
        max = check_max(max, "get_headers")
    end
    local err, errlen = get_errbuf()
    local n = C.ngx_lua_ffi_req_get_headers_count(max, truncated_buf, err, errlen)
    if n < 0 then
        fail(err, errlen)
    end
    local truncated = truncated_buf[0] == 1
    local t
    if n > 0 then
        local out = kv_array(n)
        n = C.ngx_lua_ffi_req_get_headers(out, n, raw and 1 or 0, err, errlen)
        if n < 0 then
            fail(err, errlen)
        end
        t = headers_table(out, n)
    else
        t = {}
    end
    if not raw then
        setmetatable(t, headers_mt)
    end
    if truncated then
        return t, "truncated"
    end
    return t
end

-- Shared by set_header, clear_header and ngx.req's add_header (replace
-- false); argument errors name the caller's caller, as upstream's do.
local function set_header(name, value, replace)
    if name == nil then
        error("bad 'name' argument: string expected, got nil", 3)
    end
    if type(name) ~= "string" then
        name = tostring(name)
    end
    local n = 0
    if value == nil then
        if not replace then
            error("bad 'value' argument: string or table expected, got nil", 3)
        end
    elseif type(value) == "table" then
        n = #value
        if n == 0 and not replace then
            error("bad 'value' argument: non-empty table expected", 3)
        end
        if n > vals_size then
            vals_size = n
            vals_buf = ffi.new("ngx_lua_ffi_str_t[?]", n)
        end
        for i = 1, n do
            local v = value[i]
            if type(v) ~= "string" then
                v = tostring(v)
                value[i] = v
            end
            vals_buf[i - 1].data = v
            vals_buf[i - 1].len = #v
        end
    else
        if type(value) ~= "string" then
            value = tostring(value)
        end
        n = 1
        vals_buf[0].data = value
        vals_buf[0].len = #value
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_req_set_header(name, #name, vals_buf, n,
                                            replace and 1 or 0, err, errlen)
    if rc ~= FFI_OK and rc ~= FFI_DECLINED then
        fail(err, errlen, 4)
    end
end

function req.set_header(name, value)
    set_header(name, value, true)
end

function req.clear_header(name)
    if type(name) ~= "string" then
        name = tostring(name)
    end
    set_header(name, nil, true)
end

-- Shared by get_uri_args and get_post_args: builds the Lua table from the
-- parsed pairs the FFI call left in `out`.
local function args_table(out, n, t)
    if t then
        clear_tab(t)
    else
        t = new_tab(0, n)
    end
    for i = 0, n - 1 do
        local e = out[i]
        local k, v, vlen = ffi_str(e.key, e.key_len), true, e.value_len
        if vlen >= 0 then
            v = ffi_str(e.value, vlen)
        end
        local old = rawget(t, k)
        if old == nil then
            t[k] = v
        else
            add_repeated(t, k, old, v)
        end
    end
    return t
end


function req.get_uri_args(max, tab)
    if max == nil then
        max = MAX_ARGS
    else
        max = check_max(max, "get_uri_args", MAX_ARGS)
    end
    local err, errlen = get_errbuf()
    local len = C.ngx_lua_ffi_req_get_querystring_len(err, errlen)
    if len < 0 then
        fail(err, errlen)
    end
    if len == 0 then
        if tab then
            clear_tab(tab)
            return tab
        end
        return {}
    end
    local buf = get_string_buf(len)
    -- at most one pair per byte (plus one)
    local out = kv_array(len + 1)
    local n = C.ngx_lua_ffi_req_get_uri_args(buf, out, max, truncated_buf, err, errlen)
    if n < 0 then
        fail(err, errlen)
    end
    local t = args_table(out, n, tab)
    if truncated_buf[0] == 1 then
        return t, "truncated"
    end
    return t
end

function req.set_uri_args(args)
    local ta = type(args)
    if ta == "number" then
        args = tostring(args)
    elseif ta == "table" then
        local err
        args, err = base.encode_args(args)
        if not args then
            error(err, 2)
        end
    elseif ta ~= "string" then
        error("bad argument #1 to 'set_uri_args' (string, number, or table expected, got "
              .. ta .. ")", 2)
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_set_uri_args(args, #args, err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
end

function req.set_uri(...)
    local nargs = select("#", ...)
    if nargs < 1 or nargs > 3 then
        error("expecting 1, 2 or 3 arguments but seen " .. nargs, 2)
    end
    local uri, jump, binary = ...
    if type(uri) ~= "string" then
        error("bad argument #1 to 'set_uri' (string expected, got " .. type(uri) .. ")", 2)
    end
    if nargs >= 2 and type(jump) ~= "boolean" then
        error("bad argument #2 to 'set_uri' (boolean expected, got " .. type(jump) .. ")", 2)
    end
    if nargs >= 3 and type(binary) ~= "boolean" then
        error("bad argument #3 to 'set_uri' (boolean expected, got " .. type(binary) .. ")", 2)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_req_set_uri(uri, #uri, jump and 1 or 0,
                                         binary and 1 or 0, err, errlen)
    if rc == FFI_DONE then
        -- location jump: the rewrite handler ends here
        return yield_to_scheduler()
    end
    if rc ~= FFI_OK then
        fail(err, errlen)
    end
end

-- ngx.resp.get_headers(max, raw): the response headers, as get_headers.
local resp = ngx.resp or {}
ngx.resp = resp

function resp.get_headers(max, raw)
    max = check_max(max, "get_headers")
    local err, errlen = get_errbuf()
    local cl_buf = get_string_buf(32)
    local n = C.ngx_lua_ffi_resp_get_headers(nil, 0, max, cl_buf, truncated_buf,
                                             err, errlen)
    if n < 0 then
        fail(err, errlen)
    end
    local out = kv_array(n)
    n = C.ngx_lua_ffi_resp_get_headers(out, n, max, cl_buf, truncated_buf,
                                       err, errlen)
    -- Names are as set (other modules' elements may lack a lowcase key).
    local t = headers_table(out, n, not raw)
    if not raw then
        setmetatable(t, headers_mt)
    end
    if truncated_buf[0] == 1 then
        return t, "truncated"
    end
    return t
end

function req.get_post_args(max)
    max = check_max(max, "get_post_args", MAX_ARGS)
    local err, errlen = get_errbuf()
    local len = C.ngx_lua_ffi_req_get_post_args_len(err, errlen)
    if len == FFI_DECLINED then
        return nil, ffi_str(err, errlen[0])
    end
    if len < 0 then
        fail(err, errlen)
    end
    if len == 0 then
        return {}
    end
    local buf = get_string_buf(len)
    local out = kv_array(len + 1)
    local n = C.ngx_lua_ffi_req_get_post_args(buf, len, out, max, truncated_buf,
                                              err, errlen)
    if n < 0 then
        fail(err, errlen)
    end
    local t = args_table(out, n)
    if truncated_buf[0] == 1 then
        return t, "truncated"
    end
    return t
end

-- set_req_header: for the opt-in ngx.req module (lua-lib/ngx/req.lua).
return { version = base.version, set_req_header = set_header }
