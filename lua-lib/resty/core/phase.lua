-- ngx.get_phase, ngx.get_raw_phase, ngx._phase_ctx.
local ffi = require "ffi"
local C = ffi.C

ffi.cdef [[
    int ngx_lua_ffi_get_phase(void);
]]

local names = {
    [1] = "init", [2] = "init_worker", [3] = "set", [4] = "rewrite",
    [5] = "access", [6] = "content", [7] = "log", [8] = "header_filter",
    [9] = "body_filter", [10] = "timer", [11] = "exit_worker",
    [12] = "server_rewrite", [13] = "precontent", [14] = "balancer",
    [15] = "ssl_cert", [16] = "ssl_client_hello",
    [17] = "ssl_session_fetch", [18] = "ssl_session_store",
    [19] = "proxy_ssl_cert", [20] = "proxy_ssl_verify",
}

function ngx.get_phase()
    return names[C.ngx_lua_ffi_get_phase()]
end

-- Upstream's raw context numbers (one bit per phase), which libraries
-- compare phases by; "init" has none, as it has no request upstream.
local raw = {
    [3] = 0x1, [4] = 0x2, [5] = 0x4, [6] = 0x8, [7] = 0x10, [8] = 0x20,
    [9] = 0x40, [10] = 0x80, [2] = 0x100, [14] = 0x200, [15] = 0x400,
    [18] = 0x800, [17] = 0x1000, [11] = 0x2000, [16] = 0x4000,
    [12] = 0x8000, [20] = 0x10000, [13] = 0x20000, [19] = 0x40000,
}

-- `r` names the running request (resty.core.base.get_request()): the
-- phase is the running code's, as upstream's for its own request.
function ngx.get_raw_phase(r)
    local context = raw[C.ngx_lua_ffi_get_phase()]
    if not context then
        error("no request context", 2)
    end
    return context
end

-- Nothing outside a request, as upstream's.
function ngx._phase_ctx()
    local context = raw[C.ngx_lua_ffi_get_phase()]
    if context then
        return context
    end
end

return { version = require("resty.core.base").version }
