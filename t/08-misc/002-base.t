# resty.core.base as libraries written for lua-resty-core use it: the
# shared C types, scratch buffers, the request pointer, the FFI codes.
use Test::Nginx::Socket::Lua;

plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: resty.core.base: the surface an opt-in module uses
--- http_config
    init_by_lua_block {
        -- the way ngx/*.lua modules start
        local base = require "resty.core.base"
        base.allows_subsystem("http", "stream")
        local ffi = require "ffi"
        _G.types = {}
        for _, t in ipairs{"ngx_str_t", "ngx_http_request_t", "ngx_http_lua_ffi_str_t"} do
            types[#types + 1] = t .. "=" .. tostring(pcall(ffi.typeof, t))
        end
        _G.init_req = tostring((base.get_request()))
    }
--- config
    location = /t {
        content_by_lua_block {
            local base = require "resty.core.base"
            local ffi = require "ffi"
            ngx.say(table.concat(types, " "))
            ngx.say("init request: ", init_req)
            local r = base.get_request()
            ngx.say("request: ", type(r), " ", r ~= nil, " ", tostring(ffi.typeof(r)))
            ngx.say("codes: ", base.FFI_OK, " ", base.FFI_ERROR, " ", base.FFI_AGAIN, " ",
                    base.FFI_BUSY, " ", base.FFI_DONE, " ", base.FFI_DECLINED, " ",
                    base.FFI_ABORT, " ", base.FFI_NO_REQ_CTX, " ", base.FFI_BAD_CONTEXT)
            ngx.say("version: ", type(base.version), " subsystem: ", base.subsystem)

            local size = base.get_size_ptr()
            size[0] = 7
            ngx.say("size ptr: ", tostring(ffi.typeof(size)), " same: ",
                    base.get_size_ptr() == size, " ", tonumber(size[0]))
            local errmsg = base.get_errmsg_ptr()
            ngx.say("errmsg ptr: ", tostring(ffi.typeof(errmsg)), " same: ",
                    base.get_errmsg_ptr() == errmsg)

            local buf = base.get_string_buf(16)
            ffi.copy(buf, "hello", 5)
            ngx.say("string buf: ", ffi.string(buf, 5), " shared: ",
                    base.get_string_buf(32) == buf, " fresh: ",
                    base.get_string_buf(32, true) ~= buf, " big: ",
                    base.get_string_buf(base.get_string_buf_size() + 1) ~= buf)
            base.set_string_buf_size(8)
            ngx.say("resized: ", base.get_string_buf_size(), " ",
                    base.get_string_buf(8) ~= buf, " ", base.get_string_buf(9) ~= base.get_string_buf(8))
            base.set_string_buf_size(4096)

            local t = base.new_tab(4, 4)
            t[1], t.x = 1, 2
            base.clear_tab(t)
            ngx.say("new/clear: ", next(t))

            local refs = {}
            local a = base.ref_in_table(refs, "a")
            local b = base.ref_in_table(refs, "b")
            ngx.say("refs: ", a, " ", b, " nil: ", base.ref_in_table(refs, nil))
            -- a freed slot goes to the free list at index 0 and is reused
            refs[a] = refs[0] or 0
            refs[0] = a
            ngx.say("reused: ", base.ref_in_table(refs, "c"), " ", refs[a])

            local ok, err = pcall(base.allows_subsystem, "stream")
            ngx.say("stream only: ", ok, " ", err)
        }
    }
--- request
GET /t
--- response_body_like chomp
\Angx_str_t=true ngx_http_request_t=true ngx_http_lua_ffi_str_t=true
init request: nil
request: cdata true ctype<struct ngx_http_request_s \*>
codes: 0 -1 -2 -3 -4 -5 -6 -100 -101
version: string subsystem: http
size ptr: ctype<uint64_t \[1\]> same: true 7
errmsg ptr: ctype<char \*\[1\]> same: true
string buf: hello shared: true fresh: true big: true
resized: 8 true true
new/clear: nil
refs: 1 2 nil: -1
reused: 1 c
stream only: false .*unsupported subsystem: http\n\z
--- no_error_log
[error]



=== TEST 2: resty.core.base: get_request in a timer and in a header filter
--- config
    location = /t {
        header_filter_by_lua_block {
            ngx.header["X-Req"] = tostring(require("resty.core.base").get_request() ~= nil)
        }
        content_by_lua_block {
            local base = require "resty.core.base"
            local res
            ngx.timer.at(0, function() res = base.get_request() ~= nil end)
            ngx.sleep(0.01)
            ngx.say("timer: ", res)
        }
    }
--- request
GET /t
--- response_body
timer: true
--- response_headers
X-Req: true



=== TEST 3: resty.core.base: the opt-in ngx.* modules load with their public surface
--- config
    location = /t {
        content_by_lua_block {
            local surface = {
                ["ngx.process"] = { "type", "enable_privileged_agent", "signal_graceful_exit", "get_master_pid" },
                ["ngx.errlog"] = { "get_logs", "raw_log", "set_filter_level", "get_sys_filter_level" },
                ["ngx.pipe"] = { "spawn" },
                ["ngx.semaphore"] = { "new" },
                ["ngx.re"] = { "split", "opt" },
                ["ngx.base64"] = { "encode_base64url", "decode_base64url" },
                ["ngx.resp"] = { "add_header" },
                ["ngx.req"] = { "add_header" },
            }
            local names = {}
            for name in pairs(surface) do names[#names + 1] = name end
            table.sort(names)
            for _, name in ipairs(names) do
                local m = require(name)
                local missing = {}
                for _, f in ipairs(surface[name]) do
                    if type(m[f]) ~= "function" then missing[#missing + 1] = f end
                end
                ngx.say(name, " ", type(m.version), " ", #missing == 0 and "ok" or table.concat(missing, ","))
            end
            local proc = require("ngx.pipe").spawn({"true"})
            local methods = { "pid", "set_timeouts", "wait", "kill", "shutdown", "write",
                              "stdout_read_all", "stdout_read_line", "stdout_read_bytes", "stdout_read_any",
                              "stderr_read_all", "stderr_read_line", "stderr_read_bytes", "stderr_read_any" }
            local missing = 0
            for _, m in ipairs(methods) do
                if type(proc[m]) ~= "function" then missing = missing + 1 end
            end
            ngx.say("pipe methods missing: ", missing)
            proc:wait()
        }
    }
--- request
GET /t
--- response_body
ngx.base64 string ok
ngx.errlog string ok
ngx.pipe string ok
ngx.process string ok
ngx.re string ok
ngx.req string ok
ngx.resp string ok
ngx.semaphore string ok
pipe methods missing: 0
--- no_error_log
[error]
