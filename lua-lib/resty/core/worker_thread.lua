-- ngx.run_worker_thread(pool, module, function, ...): the function of a
-- module run in a thread of nginx's thread pool `pool`, in a VM of its
-- own; the calling Lua thread waits (src/worker_thread.rs).
local ffi = require "ffi"
local base = require "resty.core.base"
local C = ffi.C
local ffi_str = ffi.string
local get_errbuf = base.get_errbuf
local yield = base.yield_to_scheduler
local type, error = type, error
local wt = require "ngx_lua.worker_thread"
local run, result = wt.run, wt.result

ffi.cdef [[
    int ngx_lua_ffi_worker_thread_check(u_char *err, size_t *errlen);
]]

local function run_worker_thread(...)
    local err, errlen = get_errbuf()
    if C.ngx_lua_ffi_worker_thread_check(err, errlen) ~= base.FFI_OK then
        error(ffi_str(err, errlen[0]), 2)
    end
    local ok, msg = run(...)
    if type(ok) == "userdata" then
        yield()
        return result(ok)
    end
    return ok, msg
end

base.set_api(ngx, "run_worker_thread", run_worker_thread)

return { version = base.version }
