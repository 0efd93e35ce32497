-- Shared FFI plumbing for the resty.core.* modules.
local ffi = require "ffi"
local ffi_new = ffi.new
local co_yield = coroutine._yield or coroutine.yield

ffi.cdef [[
    typedef unsigned char u_char;
]]

local _M = {
    version = "0.1.28",
    FFI_OK = 0,
    FFI_ERROR = -1,
    FFI_AGAIN = -2,
    FFI_BUSY = -3,
    FFI_DONE = -4,
    FFI_DECLINED = -5,
    FFI_NO_REQ_CTX = -100,
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

function _M.get_string_buf(size)
    if size > str_buf_size then
        return ffi_new("u_char[?]", size)
    end
    if not str_buf then
        str_buf = ffi_new("u_char[?]", str_buf_size)
    end
    return str_buf
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
