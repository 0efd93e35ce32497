-- ngx.balancer: what a balancer_by_lua* handler decides for the try of
-- the upstream request being set up (peer, tries, timeouts, keepalive).
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local get_request = base.get_request
local FFI_OK, FFI_ERROR, FFI_NO_REQ_CTX = base.FFI_OK, base.FFI_ERROR, base.FFI_NO_REQ_CTX
local type, tonumber, error = type, tonumber, error

ffi.cdef [[
    int ngx_lua_ffi_balancer_set_current_peer(const u_char *addr, size_t addr_len,
        int port, const u_char *host, size_t host_len, u_char *err, size_t *errlen);
    int ngx_lua_ffi_balancer_enable_keepalive(unsigned long timeout,
        unsigned int max_requests, u_char *err, size_t *errlen);
    int ngx_lua_ffi_balancer_set_more_tries(int count, u_char *err, size_t *errlen);
    int ngx_lua_ffi_balancer_get_last_failure(int *status, u_char *err, size_t *errlen);
    int ngx_lua_ffi_balancer_set_timeouts(long connect_timeout, long send_timeout,
        long read_timeout, u_char *err, size_t *errlen);
    int ngx_lua_ffi_balancer_recreate_request(u_char *err, size_t *errlen);
    int ngx_lua_ffi_balancer_set_upstream_tls(int on, u_char *err, size_t *errlen);
    int ngx_lua_ffi_balancer_bind_to_local_addr(const u_char *addr, size_t addr_len,
        u_char *err, size_t *errlen);
]]

local status_out = ffi.new("int[1]")

-- enable_keepalive's defaults: 60 s idle, 100 requests per connection.
local DEFAULT_IDLE_TIMEOUT_MS = 60000
local DEFAULT_MAX_REQUESTS = 100

-- The NGX_PEER_* state a try ended with.
local states = { [1] = "keepalive", [2] = "next", [4] = "failed" }

local _M = { version = base.version }

-- Outside a request these functions raise; in a request they return the
-- failure (no upstream, not the balancer phase), as upstream's do.
local function failed(rc, err, errlen)
    if rc == FFI_NO_REQ_CTX then
        error("no request found")
    end
    return nil, ffi_str(err, errlen[0])
end

-- A bad argument: raised as such in a request, as "no request found"
-- outside one (upstream looks for the request first). Only on this
-- error path, so a good call pays nothing for it.
local function bad_arg(msg, level)
    if not get_request() then
        error("no request found", 2)
    end
    error(msg, level + 1)
end

function _M.set_current_peer(addr, port, host)
    if not port then
        port = 0
    elseif type(port) ~= "number" then
        port = tonumber(port)
        if not port and not get_request() then
            error("no request found")
        end
    end
    if host ~= nil and type(host) ~= "string" then
        bad_arg("bad argument #3 to 'set_current_peer' (string expected, got "
                .. type(host) .. ")", 1)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_balancer_set_current_peer(addr, #addr, port, host,
                                                       host and #host or 0,
                                                       err, errlen)
    if rc == FFI_OK then
        return true
    end
    return failed(rc, err, errlen)
end

function _M.enable_keepalive(idle_timeout, max_requests)
    if not idle_timeout then
        idle_timeout = DEFAULT_IDLE_TIMEOUT_MS
    elseif type(idle_timeout) ~= "number" then
        bad_arg("bad argument #1 to 'enable_keepalive' (number expected, got "
                .. type(idle_timeout) .. ")", 2)
    elseif idle_timeout < 0 then
        bad_arg("bad argument #1 to 'enable_keepalive' (expected >= 0)", 2)
    else
        idle_timeout = idle_timeout * 1000
    end
    if not max_requests then
        max_requests = DEFAULT_MAX_REQUESTS
    elseif type(max_requests) ~= "number" then
        bad_arg("bad argument #2 to 'enable_keepalive' (number expected, got "
                .. type(max_requests) .. ")", 2)
    elseif max_requests < 0 then
        bad_arg("bad argument #2 to 'enable_keepalive' (expected >= 0)", 2)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_balancer_enable_keepalive(idle_timeout, max_requests,
                                                       err, errlen)
    if rc == FFI_OK then
        return true
    end
    return failed(rc, err, errlen)
end

function _M.set_more_tries(count)
    if type(count) ~= "number" and not get_request() then
        error("no request found")
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_balancer_set_more_tries(count, err, errlen)
    if rc == FFI_OK then
        if errlen[0] == 0 then
            return true
        end
        -- The count was reduced to nginx's *_next_upstream_tries.
        return true, ffi_str(err, errlen[0])
    end
    return failed(rc, err, errlen)
end

function _M.get_last_failure()
    local err, errlen = get_errbuf()
    local state = C.ngx_lua_ffi_balancer_get_last_failure(status_out, err, errlen)
    if state == 0 then
        return nil
    end
    if state == FFI_ERROR or state == FFI_NO_REQ_CTX then
        local _, msg = failed(state, err, errlen)
        return nil, nil, msg
    end
    return states[state] or "unknown", status_out[0]
end

-- A timeout in seconds as ms; nil keeps the configured one (0).
local function timeout_ms(t, what)
    if not t then
        return 0
    end
    if type(t) ~= "number" or t <= 0 then
        bad_arg("bad " .. what .. " timeout", 3)
    end
    return t * 1000
end

function _M.set_timeouts(connect_timeout, send_timeout, read_timeout)
    local c = timeout_ms(connect_timeout, "connect")
    local s = timeout_ms(send_timeout, "send")
    local r = timeout_ms(read_timeout, "read")
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_balancer_set_timeouts(c, s, r, err, errlen)
    if rc == FFI_OK then
        return true
    end
    if rc == FFI_NO_REQ_CTX then
        error("no request found")
    end
    return false, ffi_str(err, errlen[0])
end

function _M.recreate_request()
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_balancer_recreate_request(err, errlen)
    if rc == FFI_OK then
        return true
    end
    if rc == FFI_ERROR and errlen[0] == 0 then
        return nil, "failed to recreate the upstream request"
    end
    return failed(rc, err, errlen)
end

function _M.set_upstream_tls(on)
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_balancer_set_upstream_tls(
        (on == 0 or on == false) and 0 or 1, err, errlen)
    if rc == FFI_OK then
        return true
    end
    return failed(rc, err, errlen)
end

function _M.bind_to_local_addr(addr)
    if type(addr) ~= "string" then
        bad_arg("bad argument #1 to 'bind_to_local_addr' (string expected, got "
                .. type(addr) .. ")", 1)
    end
    local err, errlen = get_errbuf()
    local rc = C.ngx_lua_ffi_balancer_bind_to_local_addr(addr, #addr, err, errlen)
    if rc == FFI_OK then
        return true
    end
    return failed(rc, err, errlen)
end

return _M
