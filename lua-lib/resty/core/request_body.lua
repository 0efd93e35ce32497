-- ngx.req's request body functions (but get_post_args), loaded on first
-- call (see resty.core and docs/design.md, "The worker's Lua heap").
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf, get_string_buf = base.get_errbuf, base.get_string_buf
local yield_to_scheduler = base.yield_to_scheduler
local FFI_OK, FFI_DONE, FFI_AGAIN, FFI_DECLINED =
    base.FFI_OK, base.FFI_DONE, base.FFI_AGAIN, base.FFI_DECLINED
local type, tostring, tonumber, error, select = type, tostring, tonumber, error, select
local str_format = string.format
local floor, ceil = math.floor, math.ceil

ffi.cdef [[
    int ngx_lua_ffi_req_read_body(u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_discard_body(u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_get_body_len(u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_copy_body(u_char *buf, size_t size, u_char *err,
        size_t *errlen);
    int ngx_lua_ffi_req_get_body_file(const u_char **name, size_t *len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_set_body_data(const char *data, size_t len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_set_body_file(const char *path, size_t len, int clean,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_init_body(ssize_t size, u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_append_body(const char *data, size_t len,
        u_char *err, size_t *errlen);
    int ngx_lua_ffi_req_finish_body(u_char *err, size_t *errlen);
]]

local name_ptr = ffi.new("const u_char *[1]")
local path_len = ffi.new("size_t[1]")

local function fail(err, errlen, level)
    error(ffi_str(err, errlen[0]), level or 3)
end

local function read_body()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_req_read_body(err, errlen)
    if rc == FFI_AGAIN or rc == FFI_DONE then
        -- AGAIN: resumed once nginx has read the whole body;
        -- DONE: reading failed with a status that ends the handler.
        yield_to_scheduler()
        return
    end
    if rc ~= FFI_OK then
        fail(err, errlen)
    end
end

local function discard_body()
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_discard_body(err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
end

-- get_body_data(max_bytes): at most max_bytes bytes (0 or less: all).
local function get_body_data(...)
    local nargs = select("#", ...)
    if nargs > 1 then
        error("expecting 0 or 1 arguments but seen " .. nargs, 2)
    end
    local max = 0
    if nargs == 1 then
        local v = ...
        max = type(v) == "number" and v or (type(v) == "string" and tonumber(v))
        if not max then
            error("bad argument #1 to 'get_body_data' (number expected, got "
                  .. type(v) .. ")", 2)
        end
        max = max >= 1 and floor(max) or 0
    end
    local err, errlen = get_errbuf()
    local n = C.ngx_lua_ffi_req_get_body_len(err, errlen)
    if n == FFI_DECLINED then
        return nil
    end
    if n < 0 then
        fail(err, errlen)
    end
    if max > 0 and n > max then
        n = max
    end
    local buf = get_string_buf(n)
    n = C.ngx_lua_ffi_req_copy_body(buf, n, err, errlen)
    if n < 0 then
        fail(err, errlen)
    end
    return ffi_str(buf, n)
end

local function get_body_file()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_req_get_body_file(name_ptr, path_len, err, errlen)
    if rc == FFI_DECLINED then
        return nil
    end
    if rc ~= FFI_OK then
        fail(err, errlen)
    end
    return ffi_str(name_ptr[0], path_len[0])
end

-- A string argument (numbers converted), else upstream's error raised at
-- the caller of `fname`.
local function string_arg(v, n, fname)
    if type(v) == "string" then
        return v
    end
    if type(v) ~= "number" then
        error("bad argument #" .. n .. " to '" .. fname .. "' (string expected, got "
              .. type(v) .. ")", 3)
    end
    return tostring(v)
end

local function set_body_data(data)
    data = string_arg(data, 1, "set_body_data")
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_set_body_data(data, #data, err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
end

local function set_body_file(...)
    local nargs = select("#", ...)
    if nargs ~= 1 and nargs ~= 2 then
        error("expecting 1 or 2 arguments but seen " .. nargs, 2)
    end
    local path, clean = ...
    path = string_arg(path, 1, "set_body_file")
    if nargs == 2 and type(clean) ~= "boolean" then
        error("bad argument #2 to 'set_body_file' (boolean expected, got "
              .. type(clean) .. ")", 2)
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_set_body_file(path, #path, clean and 1 or 0, err,
                                       errlen) ~= FFI_OK
    then
        fail(err, errlen)
    end
end

-- init_body(buffer_size): a new empty body; without a size,
-- client_body_buffer_size; 0 writes straight to a temp file.
local function init_body(...)
    local nargs = select("#", ...)
    if nargs > 1 then
        error("expecting 0 or 1 argument but seen " .. nargs, 2)
    end
    local size = -1
    if nargs == 1 then
        local v = ...
        size = type(v) == "number" and v or (type(v) == "string" and tonumber(v))
        if not size then
            error("bad argument #1 to 'init_body' (number expected, got "
                  .. type(v) .. ")", 2)
        end
        size = size < 0 and ceil(size) or floor(size)
        if size < 0 then
            error("bad size argument: " .. str_format("%d", size), 2)
        end
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_init_body(size, err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
end

local function append_body(...)
    local nargs = select("#", ...)
    if nargs ~= 1 then
        error("expecting 1 arguments but seen " .. nargs, 2)
    end
    local data = string_arg(..., 1, "append_body")
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_append_body(data, #data, err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
end

local function finish_body(...)
    local nargs = select("#", ...)
    if nargs ~= 0 then
        error("expecting 0 argument but seen " .. nargs, 2)
    end
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_req_finish_body(err, errlen) ~= FFI_OK then
        fail(err, errlen)
    end
end

local req = ngx.req
base.set_api(req, "read_body", read_body)
base.set_api(req, "discard_body", discard_body)
base.set_api(req, "get_body_data", get_body_data)
base.set_api(req, "get_body_file", get_body_file)
base.set_api(req, "set_body_data", set_body_data)
base.set_api(req, "set_body_file", set_body_file)
base.set_api(req, "init_body", init_body)
base.set_api(req, "append_body", append_body)
base.set_api(req, "finish_body", finish_body)

return { version = base.version }
