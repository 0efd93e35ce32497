-- The methods of ngx.shared.DICT objects, every one a call into the
-- module through FFI (src/ffi/shdict.rs); resty.core.shdict loads this
-- at the first method lookup and copies them into the dicts' metatable.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_new = ffi.new
local ffi_str = ffi.string
local ffi_cast = ffi.cast
local get_errbuf = base.get_errbuf
local get_string_buf = base.get_string_buf
local FFI_OK, FFI_DECLINED = base.FFI_OK, base.FFI_DECLINED
local type, tostring, tonumber, error, select = type, tostring, tonumber, error, select

ffi.cdef [[
    void *ngx_lua_ffi_shdict_find(const unsigned char *name, size_t len);
    void ngx_lua_ffi_shdict_free(void *p);
    int ngx_lua_ffi_shdict_store(void *zone, int op, const unsigned char *key,
        size_t key_len, int value_type, const unsigned char *str_value,
        size_t str_len, double num, long exptime_ms, int flags, int *forcible,
        unsigned char *err, size_t *errlen);
    int ngx_lua_ffi_shdict_get(void *zone, const unsigned char *key,
        size_t key_len, int *value_type, unsigned char **buf, size_t *len,
        double *num, int *flags, int get_stale, int *is_stale,
        unsigned char *err, size_t *errlen);
    int ngx_lua_ffi_shdict_incr(void *zone, const unsigned char *key,
        size_t key_len, double *value, int has_init, double init,
        long init_ttl_ms, int *forcible, unsigned char *err, size_t *errlen);
    int ngx_lua_ffi_shdict_push(void *zone, const unsigned char *key,
        size_t key_len, int left, int value_type, const unsigned char *str_value,
        size_t str_len, double num, size_t *n, unsigned char *err,
        size_t *errlen);
    int ngx_lua_ffi_shdict_pop(void *zone, const unsigned char *key,
        size_t key_len, int left, int *value_type, unsigned char **buf,
        size_t *len, double *num, unsigned char *err, size_t *errlen);
    int ngx_lua_ffi_shdict_llen(void *zone, const unsigned char *key,
        size_t key_len, size_t *n, unsigned char *err, size_t *errlen);
    int ngx_lua_ffi_shdict_get_ttl(void *zone, const unsigned char *key,
        size_t key_len, long *ttl);
    int ngx_lua_ffi_shdict_set_expire(void *zone, const unsigned char *key,
        size_t key_len, long exptime_ms);
    int ngx_lua_ffi_shdict_flush_all(void *zone);
    int ngx_lua_ffi_shdict_flush_expired(void *zone, int max);
    int ngx_lua_ffi_shdict_get_keys(void *zone, int max, unsigned char **out);
    size_t ngx_lua_ffi_shdict_capacity(void *zone);
    size_t ngx_lua_ffi_shdict_free_space(void *zone);
]]

local STR_BUF_SIZE = 4096
local value_type = ffi_new("int[1]")
local user_flags = ffi_new("int[1]")
local num_value = ffi_new("double[1]")
local is_stale = ffi_new("int[1]")
local forcible = ffi_new("int[1]")
local size_out = ffi_new("size_t[1]")
local long_out = ffi_new("long[1]")
local str_ptr = ffi_new("unsigned char *[1]")
local size_ptr_t = ffi.typeof("size_t *")

local OP_ADD, OP_REPLACE, OP_SAFE = 0x1, 0x2, 0x4

-- `lvl`: the error level of the method's caller (3 when called from the
-- method itself).
local function check_zone(zone, lvl)
    if type(zone) ~= "table" then
        error("bad \"zone\" argument", lvl or 3)
    end
    zone = zone[1]
    if type(zone) ~= "cdata" then
        error("bad \"zone\" argument", lvl or 3)
    end
    return zone
end

-- nil + message for a bad key, else the key as a string.
local function check_key(key)
    if key == nil then
        return nil, "nil key"
    end
    if type(key) ~= "string" then
        key = tostring(key)
    end
    local n = #key
    if n == 0 then
        return nil, "empty key"
    end
    if n > 65535 then
        return nil, "key too long"
    end
    return key
end

local function store(zone, op, key, value, exptime, flags)
    zone = check_zone(zone)
    if not exptime then
        exptime = 0
    elseif exptime < 0 then
        error('bad "exptime" argument', 2)
    end
    if not flags then
        flags = 0
    end
    local err
    key, err = check_key(key)
    if not key then
        return nil, err
    end
    local typ = type(value)
    local str, str_len, num = nil, 0, 0
    if typ == "string" then
        typ, str, str_len = 4, value, #value
    elseif typ == "number" then
        typ, num = 3, value
    elseif value == nil then
        typ = 0
    elseif typ == "boolean" then
        typ, num = 1, value and 1 or 0
    else
        return nil, "bad value type"
    end
    local errbuf, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_shdict_store(zone, op, key, #key, typ, str, str_len,
                                          num, exptime * 1000, flags, forcible,
                                          errbuf, errlen)
    if rc == FFI_OK then
        return true, nil, forcible[0] == 1
    end
    return false, ffi_str(errbuf, errlen[0]), forcible[0] == 1
end

local function shdict_set(zone, key, value, exptime, flags)
    return store(zone, 0, key, value, exptime, flags)
end

local function shdict_safe_set(zone, key, value, exptime, flags)
    return store(zone, OP_SAFE, key, value, exptime, flags)
end

local function shdict_add(zone, key, value, exptime, flags)
    return store(zone, OP_ADD, key, value, exptime, flags)
end

local function shdict_safe_add(zone, key, value, exptime, flags)
    return store(zone, OP_ADD + OP_SAFE, key, value, exptime, flags)
end

local function shdict_replace(zone, key, value, exptime, flags)
    return store(zone, OP_REPLACE, key, value, exptime, flags)
end

local function shdict_delete(zone, key)
    return store(zone, 0, key, nil)
end

-- The value the FFI call left in the scratch outputs.
local function fetched(typ, buf)
    if typ == 4 then
        local p = str_ptr[0]
        local v = ffi_str(p, size_out[0])
        if p ~= buf then
            C.ngx_lua_ffi_shdict_free(p)
        end
        return v
    end
    if typ == 3 then
        return tonumber(num_value[0])
    end
    return num_value[0] ~= 0
end

local function get(zone, key, stale)
    zone = check_zone(zone, 4)
    local err
    key, err = check_key(key)
    if not key then
        return nil, err
    end
    local buf = get_string_buf(STR_BUF_SIZE)
    str_ptr[0] = buf
    size_out[0] = STR_BUF_SIZE
    local errbuf, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_shdict_get(zone, key, #key, value_type, str_ptr,
                                        size_out, num_value, user_flags, stale,
                                        is_stale, errbuf, errlen)
    if rc ~= FFI_OK then
        return nil, ffi_str(errbuf, errlen[0])
    end
    local typ = value_type[0]
    if typ == 0 then
        return nil
    end
    return fetched(typ, buf), tonumber(user_flags[0])
end

local function shdict_get(zone, key)
    local v, flags = get(zone, key, 0)
    if v == nil then
        if flags then
            return nil, flags
        end
        return nil
    end
    if flags ~= 0 then
        return v, flags
    end
    return v
end

local function shdict_get_stale(zone, key)
    local v, flags = get(zone, key, 1)
    if v == nil then
        if flags then
            return nil, flags
        end
        return nil
    end
    if flags == 0 then
        flags = nil
    end
    return v, flags, is_stale[0] == 1
end

local function shdict_incr(zone, key, value, init, init_ttl)
    zone = check_zone(zone)
    local err
    key, err = check_key(key)
    if not key then
        return nil, err
    end
    if type(value) ~= "number" then
        value = tonumber(value)
    end
    num_value[0] = value
    if init then
        local typ = type(init)
        if typ ~= "number" then
            init = tonumber(init)
            if not init then
                error("bad init arg: number expected, got " .. typ, 2)
            end
        end
    end
    if init_ttl ~= nil then
        local typ = type(init_ttl)
        if typ ~= "number" then
            init_ttl = tonumber(init_ttl)
            if not init_ttl then
                error("bad init_ttl arg: number expected, got " .. typ, 2)
            end
        end
        if init_ttl < 0 then
            error('bad "init_ttl" argument', 2)
        end
        if not init then
            error('must provide "init" when providing "init_ttl"', 2)
        end
    else
        init_ttl = 0
    end
    local errbuf, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_shdict_incr(zone, key, #key, num_value,
                                         init and 1 or 0, init or 0,
                                         init_ttl * 1000, forcible, errbuf,
                                         errlen)
    if rc ~= FFI_OK then
        return nil, ffi_str(errbuf, errlen[0])
    end
    if not init then
        return tonumber(num_value[0])
    end
    return tonumber(num_value[0]), nil, forcible[0] == 1
end

local function list_key(name, n, want, zone, key)
    if n ~= want then
        error("expecting " .. want .. " arguments, but only seen " .. n, 3)
    end
    zone = check_zone(zone, 4)
    if key == nil then
        return nil, "nil key"
    end
    local typ = type(key)
    if typ == "number" then
        key = tostring(key)
    elseif typ ~= "string" then
        error("bad argument #1 to '" .. name .. "' (string expected, got " .. typ .. ")", 3)
    end
    if #key == 0 then
        return nil, "empty key"
    end
    if #key > 65535 then
        return nil, "key too long"
    end
    return zone, key
end

local function push(left, n, zone, key, value)
    local z, k = list_key(left == 1 and "lpush" or "rpush", n, 3, zone, key)
    if not z then
        return nil, k
    end
    local typ = type(value)
    local str, str_len, num = nil, 0, 0
    if typ == "string" then
        typ, str, str_len = 4, value, #value
    elseif typ == "number" then
        typ, num = 3, value
    else
        return nil, "bad value type"
    end
    local errbuf, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_shdict_push(z, k, #k, left, typ, str, str_len, num,
                                         size_out, errbuf, errlen)
    if rc == FFI_OK then
        return tonumber(size_out[0])
    end
    if rc == FFI_DECLINED then
        return false, ffi_str(errbuf, errlen[0])
    end
    return nil, ffi_str(errbuf, errlen[0])
end

local function pop(left, n, zone, key)
    local z, k = list_key(left == 1 and "lpop" or "rpop", n, 2, zone, key)
    if not z then
        return nil, k
    end
    local buf = get_string_buf(STR_BUF_SIZE)
    str_ptr[0] = buf
    size_out[0] = STR_BUF_SIZE
    local errbuf, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_shdict_pop(z, k, #k, left, value_type, str_ptr,
                                        size_out, num_value, errbuf, errlen)
    if rc ~= FFI_OK then
        return nil, ffi_str(errbuf, errlen[0])
    end
    local typ = value_type[0]
    if typ == 0 then
        return nil
    end
    return fetched(typ, buf)
end

local function shdict_lpush(...)
    return push(1, select("#", ...), ...)
end

local function shdict_rpush(...)
    return push(0, select("#", ...), ...)
end

local function shdict_lpop(...)
    return pop(1, select("#", ...), ...)
end

local function shdict_rpop(...)
    return pop(0, select("#", ...), ...)
end

local function shdict_llen(...)
    local z, k = list_key("llen", select("#", ...), 2, ...)
    if not z then
        return nil, k
    end
    local errbuf, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_shdict_llen(z, k, #k, size_out, errbuf, errlen)
    if rc ~= FFI_OK then
        return nil, ffi_str(errbuf, errlen[0])
    end
    return tonumber(size_out[0])
end

local function shdict_ttl(zone, key)
    zone = check_zone(zone)
    local err
    key, err = check_key(key)
    if not key then
        return nil, err
    end
    local rc = C.ngx_lua_ffi_shdict_get_ttl(zone, key, #key, long_out)
    if rc == FFI_DECLINED then
        return nil, "not found"
    end
    return tonumber(long_out[0]) / 1000
end

local function shdict_expire(zone, key, exptime)
    zone = check_zone(zone)
    if not exptime then
        error('bad "exptime" argument', 2)
    end
    local err
    key, err = check_key(key)
    if not key then
        return nil, err
    end
    local rc = C.ngx_lua_ffi_shdict_set_expire(zone, key, #key, exptime * 1000)
    if rc == FFI_DECLINED then
        return nil, "not found"
    end
    return true
end

local function shdict_flush_all(zone)
    C.ngx_lua_ffi_shdict_flush_all(check_zone(zone))
end

local function max_arg(name, n, zone, max)
    if n ~= 1 and n ~= 2 then
        error("expecting 1 or 2 argument(s), but saw " .. n, 3)
    end
    if type(zone) ~= "table" then
        error("bad argument #1 to '" .. name .. "' (table expected, got " .. type(zone) .. ")", 3)
    end
    if n == 2 then
        local m = tonumber(max)
        if not m then
            error("bad argument #2 to '" .. name .. "' (number expected, got " .. type(max) .. ")", 3)
        end
        return m
    end
end

local function shdict_flush_expired(...)
    local max = max_arg("flush_expired", select("#", ...), ...)
    local zone = check_zone((...))
    return C.ngx_lua_ffi_shdict_flush_expired(zone, max or 0)
end

local function shdict_get_keys(...)
    local max = max_arg("get_keys", select("#", ...), ...)
    local zone = check_zone((...))
    local n = C.ngx_lua_ffi_shdict_get_keys(zone, max or 1024, str_ptr)
    local keys = base.new_tab(n > 0 and n or 0, 0)
    if n <= 0 then
        return keys
    end
    local p = str_ptr[0]
    local lens = ffi_cast(size_ptr_t, p)
    local off = n * ffi.sizeof("size_t")
    for i = 0, n - 1 do
        local len = tonumber(lens[i])
        keys[i + 1] = ffi_str(p + off, len)
        off = off + len
    end
    C.ngx_lua_ffi_shdict_free(p)
    return keys
end

local function shdict_capacity(zone)
    return tonumber(C.ngx_lua_ffi_shdict_capacity(check_zone(zone)))
end

local function shdict_free_space(zone)
    return tonumber(C.ngx_lua_ffi_shdict_free_space(check_zone(zone)))
end

local methods = {
    get = shdict_get,
    get_stale = shdict_get_stale,
    set = shdict_set,
    safe_set = shdict_safe_set,
    add = shdict_add,
    safe_add = shdict_safe_add,
    replace = shdict_replace,
    delete = shdict_delete,
    incr = shdict_incr,
    lpush = shdict_lpush,
    rpush = shdict_rpush,
    lpop = shdict_lpop,
    rpop = shdict_rpop,
    llen = shdict_llen,
    ttl = shdict_ttl,
    expire = shdict_expire,
    flush_all = shdict_flush_all,
    flush_expired = shdict_flush_expired,
    get_keys = shdict_get_keys,
    capacity = shdict_capacity,
    free_space = shdict_free_space,
}
return methods
