-- ngx.semaphore: synchronisation between light threads, requests and
-- timers of one worker.
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_gc, ffi_str = ffi.gc, ffi.string
local get_errbuf = base.get_errbuf
local yield_to_scheduler = base.yield_to_scheduler
local FFI_OK, FFI_AGAIN, FFI_DECLINED, FFI_NO_REQ_CTX =
    base.FFI_OK, base.FFI_AGAIN, base.FFI_DECLINED, base.FFI_NO_REQ_CTX
local type, tonumber, error, setmetatable, floor = type, tonumber, error, setmetatable, math.floor

ffi.cdef [[
    typedef struct ngx_lua_sema_s ngx_lua_sema_t;
    ngx_lua_sema_t *ngx_lua_ffi_sema_new(int n);
    void ngx_lua_ffi_sema_gc(ngx_lua_sema_t *s);
    int ngx_lua_ffi_sema_count(ngx_lua_sema_t *s);
    int ngx_lua_ffi_sema_post(ngx_lua_sema_t *s, int n);
    int ngx_lua_ffi_sema_wait(ngx_lua_sema_t *s, int ms, u_char *err, size_t *errlen);
    int ngx_lua_ffi_sema_result(void);
]]

local _M = { version = base.version }
local mt = { __index = _M }

local function check(self)
    if type(self) ~= "table" or type(self.sem) ~= "cdata" then
        error("not a semaphore instance", 3)
    end
end

-- Counts reach C as ints: NaN is refused (upstream's conversion made it
-- INT_MIN, a semaphore no post could bring back), larger values are
-- clamped.
local INT_MAX = 2147483647

function _M.new(n)
    n = tonumber(n) or 0
    if not (n >= 0) then
        error("no negative number", 2)
    end
    if n > INT_MAX then
        n = INT_MAX
    end
    local sem = C.ngx_lua_ffi_sema_new(n)
    if sem == nil then
        return nil, "no memory"
    end
    return setmetatable({ sem = ffi_gc(sem, C.ngx_lua_ffi_sema_gc) }, mt)
end

function _M.wait(self, seconds)
    check(self)
    local ms = (tonumber(seconds) or 0) * 1000
    if ms < 0 then
        error("no negative number", 2)
    end
    local err, errlen = get_errbuf()
    local sem = self.sem
    local rc = C.ngx_lua_ffi_sema_wait(sem, floor(ms), err, errlen)
    if rc == FFI_OK then
        return true
    end
    if rc == FFI_DECLINED then
        return nil, "timeout"
    end
    if rc == FFI_AGAIN then
        yield_to_scheduler()
        -- `sem` stays referenced by this frame until the wait is over.
        if C.ngx_lua_ffi_sema_result() == 1 and sem ~= nil then
            return true
        end
        return false, "timeout"
    end
    if rc == FFI_NO_REQ_CTX then
        error("no request found", 2)
    end
    return nil, ffi_str(err, errlen[0])
end

function _M.post(self, n)
    check(self)
    local num = n and tonumber(n) or 1
    if not (num >= 1) then
        error("positive number required", 2)
    end
    if num > INT_MAX then
        num = INT_MAX
    end
    C.ngx_lua_ffi_sema_post(self.sem, num)
    return true
end

function _M.count(self)
    check(self)
    return C.ngx_lua_ffi_sema_count(self.sem)
end

return _M
