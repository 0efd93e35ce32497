-- Shared FFI plumbing for the resty.core.* modules, and the surface
-- libraries written for lua-resty-core use from `resty.core.base`: the
-- shared C types, the scratch buffers, the request pointer, the FFI status
-- codes.
local ffi = require "ffi"
local ffi_new = ffi.new
local co_yield = coroutine._yield or coroutine.yield
local select, error, ceil, pcall = select, error, math.ceil, pcall
local getinfo = debug.getinfo

ffi.cdef [[
    typedef unsigned char u_char;
    void *ngx_lua_ffi_get_request(void);
]]

-- The C types every lua-resty-core-style module declares against; a
-- library may have declared them first, which ffi.cdef would refuse.
if not pcall(ffi.typeof, "ngx_str_t") then
    ffi.cdef [[
        typedef struct { size_t len; const unsigned char *data; } ngx_str_t;
    ]]
end
if not pcall(ffi.typeof, "ngx_http_request_t") then
    ffi.cdef [[ typedef struct ngx_http_request_s ngx_http_request_t; ]]
end
if not pcall(ffi.typeof, "ngx_http_lua_ffi_str_t") then
    ffi.cdef [[
        typedef struct { int len; const unsigned char *data; } ngx_http_lua_ffi_str_t;
    ]]
end

local C = ffi.C
local subsystem = "http"

local _M = {
    version = "0.1.28",
    subsystem = subsystem,
    FFI_OK = 0,
    FFI_ERROR = -1,
    FFI_AGAIN = -2,
    FFI_BUSY = -3,
    FFI_DONE = -4,
    FFI_DECLINED = -5,
    FFI_ABORT = -6,
    FFI_NO_REQ_CTX = -100,
    FFI_BAD_CONTEXT = -101,
}

local ERR_BUF_SIZE = 256
local errbuf = ffi_new("u_char[?]", ERR_BUF_SIZE)
local errlen = ffi_new("size_t[1]")

-- One scratch error buffer, reused by every call (FFI functions fill it
-- and the caller turns it into a Lua string before the next call).
function _M.get_errbuf()
    errlen[0] = ERR_BUF_SIZE
    return errbuf, errlen
end

local str_buf_size = 4096
local str_buf
local size_ptr
local errmsg
local buf_type = ffi.typeof("u_char[?]")

-- A scratch buffer of at least `size` bytes, shared by every caller
-- (valid until the next call); `must_alloc` asks for a fresh one.
function _M.get_string_buf(size, must_alloc)
    if size > str_buf_size or must_alloc then
        return ffi_new(buf_type, size)
    end
    if not str_buf then
        str_buf = ffi_new(buf_type, str_buf_size)
    end
    return str_buf
end

function _M.get_string_buf_size()
    return str_buf_size
end

function _M.set_string_buf_size(size)
    if size <= 0 then
        return
    end
    str_buf = nil
    str_buf_size = ceil(size)
end

function _M.get_size_ptr()
    if not size_ptr then
        size_ptr = ffi_new("size_t[1]")
    end
    return size_ptr
end

function _M.get_errmsg_ptr()
    if not errmsg then
        errmsg = ffi_new("char *[1]")
    end
    return errmsg
end

-- The running request as an `ngx_http_request_t *`, or nil outside one
-- (init_by_lua*, init_worker_by_lua*).
function _M.get_request()
    local r = C.ngx_lua_ffi_get_request()
    if r ~= nil then
        return ffi.cast("ngx_http_request_t *", r)
    end
end

-- Raises luaL_argerror's text from the API function that calls it (or,
-- with `depth`, the function that many frames further up), for APIs that
-- are C functions upstream: the function named as its caller called it
-- ('?' through pcall), `self` not counted in a method call, and the
-- caller's position. Only the error path pays for getinfo.
function _M.arg_error(narg, msg, depth)
    depth = depth or 0
    local ar = getinfo(2 + depth, "n")
    local name = ar and ar.name or "?"
    if ar and ar.namewhat == "method" then
        narg = narg - 1
        if narg == 0 then
            error("calling '" .. name .. "' on bad self (" .. msg .. ")", 3 + depth)
        end
    end
    error("bad argument #" .. narg .. " to '" .. name .. "' (" .. msg .. ")", 3 + depth)
end

function _M.allows_subsystem(...)
    for i = 1, select("#", ...) do
        if select(i, ...) == subsystem then
            return
        end
    end
    error("unsupported subsystem: " .. subsystem, 2)
end

-- Stores `key` in the array part of `tb`, reusing slots freed into the
-- free list at index 0; returns its index (-1 for nil).
function _M.ref_in_table(tb, key)
    if key == nil then
        return -1
    end
    local ref = tb[0]
    if ref and ref ~= 0 then
        tb[0] = tb[ref]
    else
        ref = #tb + 1
    end
    tb[ref] = key
    return ref
end

-- The private value yielded to the scheduler by APIs that wait for an
-- nginx event; user coroutine wrappers pass it up to the entry thread.
local YIELD_MARKER = setmetatable({}, { __tostring = function() return "ngx_lua yield" end })
_M.YIELD_MARKER = YIELD_MARKER

function _M.yield_to_scheduler()
    return co_yield(YIELD_MARKER)
end

do
    local ok, new_tab = pcall(require, "table.new")
    if not ok then
        new_tab = function() return {} end
    end
    _M.new_tab = new_tab

    local ok2, clear_tab = pcall(require, "table.clear")
    if not ok2 then
        clear_tab = function(t)
            for k in pairs(t) do
                t[k] = nil
            end
        end
    end
    _M.clear_tab = clear_tab
end

-- APIs whose module is loaded on first use (resty.core chooses them):
-- `lazy` puts a stub at tbl[key] that loads the module and then calls the
-- function the module installed with `set_api`. The module replaces the
-- stubs still in place, so code that reads ngx.location.capture at each
-- call gets the function itself after the first; a stub a library kept
-- in a local goes on forwarding (a tail call: error levels and the
-- caller's frame are those of a direct call); a value the user stored
-- over a stub before the first call stays.
local pending = {} -- tbl -> key -> stub, for modules not loaded yet
local impls = {} -- stub -> the function its module installed

function _M.lazy(name, tbl, keys)
    local p = pending[tbl] or {}
    pending[tbl] = p
    for i = 1, #keys do
        local key = keys[i]
        local impl
        local function stub(...)
            if impl == nil then
                require(name)
                impl = impls[stub]
            end
            return impl(...)
        end
        p[key] = stub
        tbl[key] = stub
    end
end

-- tbl[alias] is the same function as tbl[key] (ngx.socket.stream).
function _M.lazy_alias(tbl, alias, key)
    local p = pending[tbl]
    p[alias] = p[key]
    tbl[alias] = tbl[key]
end

function _M.set_api(tbl, key, f)
    local p = pending[tbl]
    local stub = p and p[key]
    if stub then
        impls[stub] = f
        p[key] = nil
        if rawget(tbl, key) ~= stub then
            return
        end
    end
    tbl[key] = f
end

-- ngx.* fields computed on access (ngx.ctx, ngx.status).
local getters, setters = {}, {}
_M.ngx_getters, _M.ngx_setters = getters, setters

setmetatable(ngx, {
    __index = function(_, k)
        local g = getters[k]
        if g then
            return g()
        end
    end,
    __newindex = function(t, k, v)
        local s = setters[k]
        if s then
            return s(v)
        end
        rawset(t, k, v)
    end,
})

return _M
