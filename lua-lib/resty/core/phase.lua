-- ngx.get_phase.
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

return { version = require("resty.core.base").version }
