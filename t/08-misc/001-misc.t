# ngx.status, ngx.get_phase, constants, ngx.config, ngx.worker, time.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.status read and write
--- config
    location = /t {
        content_by_lua_block {
            local before = ngx.status
            ngx.status = 404
            ngx.say(before, " ", ngx.status)
        }
    }
--- request
GET /t
--- error_code: 404
--- response_body
0 404



=== TEST 2: setting ngx.status after the header went out logs an error
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("sent")
            ngx.status = 500
            ngx.say(ngx.status)
        }
    }
--- request
GET /t
--- response_body
sent
200
--- error_log
attempt to set ngx.status after sending out response headers



=== TEST 3: bad ngx.status values
--- config
    location = /t {
        content_by_lua_block {
            local ok, e1 = pcall(function() ngx.status = "abc" end)
            local ok2, e2 = pcall(function() ngx.status = 9999 end)
            ngx.say(e1) ngx.say(e2)
        }
    }
--- request
GET /t
--- response_body_like
attempt to set ngx.status to a string value
.*invalid HTTP status code



=== TEST 4: constants
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.OK, " ", ngx.ERROR, " ", ngx.AGAIN, " ", ngx.DONE, " ", ngx.DECLINED)
            ngx.say(ngx.HTTP_GET, " ", ngx.HTTP_POST, " ", ngx.HTTP_OK, " ", ngx.HTTP_NOT_FOUND, " ", ngx.HTTP_INTERNAL_SERVER_ERROR)
            ngx.say(ngx.STDERR, ngx.EMERG, ngx.ALERT, ngx.CRIT, ngx.ERR, ngx.WARN, ngx.NOTICE, ngx.INFO, ngx.DEBUG)
            ngx.say(ngx.null == nil, " ", type(ngx.null))
        }
    }
--- request
GET /t
--- response_body
0 -1 -2 -4 -5
2 8 200 404 500
012345678
false userdata



=== TEST 5: constants: every HTTP method and status name upstream defines, HTTP_NOT_IMPLEMENTED and its old name included
--- config
    location = /t {
        content_by_lua_block {
            local names = {
                "HTTP_ACCEPTED", "HTTP_BAD_GATEWAY", "HTTP_BAD_REQUEST", "HTTP_CLOSE",
                "HTTP_CONFLICT", "HTTP_CONTINUE", "HTTP_COPY", "HTTP_CREATED", "HTTP_DELETE",
                "HTTP_FORBIDDEN", "HTTP_GATEWAY_TIMEOUT", "HTTP_GET", "HTTP_GONE", "HTTP_HEAD",
                "HTTP_ILLEGAL", "HTTP_INSUFFICIENT_STORAGE", "HTTP_INTERNAL_SERVER_ERROR",
                "HTTP_LOCK", "HTTP_METHOD_NOT_IMPLEMENTED", "HTTP_MKCOL", "HTTP_MOVE",
                "HTTP_MOVED_PERMANENTLY", "HTTP_MOVED_TEMPORARILY", "HTTP_NOT_ACCEPTABLE",
                "HTTP_NOT_ALLOWED", "HTTP_NOT_FOUND", "HTTP_NOT_IMPLEMENTED",
                "HTTP_NOT_MODIFIED", "HTTP_NO_CONTENT", "HTTP_OK", "HTTP_OPTIONS",
                "HTTP_PARTIAL_CONTENT", "HTTP_PATCH", "HTTP_PAYMENT_REQUIRED",
                "HTTP_PERMANENT_REDIRECT", "HTTP_POST", "HTTP_PROPFIND", "HTTP_PROPPATCH",
                "HTTP_PUT", "HTTP_REQUEST_TIMEOUT", "HTTP_SEE_OTHER",
                "HTTP_SERVICE_UNAVAILABLE", "HTTP_SPECIAL_RESPONSE", "HTTP_SWITCHING_PROTOCOLS",
                "HTTP_TEMPORARY_REDIRECT", "HTTP_TOO_MANY_REQUESTS", "HTTP_TRACE",
                "HTTP_UNAUTHORIZED", "HTTP_UNLOCK", "HTTP_UPGRADE_REQUIRED",
                "HTTP_VERSION_NOT_SUPPORTED"
            }
            local missing = {}
            for _, n in ipairs(names) do
                if type(ngx[n]) ~= "number" then
                    missing[#missing + 1] = n
                end
            end
            ngx.say(#names, " names, missing: [", table.concat(missing, " "), "]")
            ngx.say(ngx.HTTP_NOT_IMPLEMENTED, " ", ngx.HTTP_METHOD_NOT_IMPLEMENTED)
        }
    }
--- request
GET /t
--- response_body
51 names, missing: []
501 501



=== TEST 6: ngx.config
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.config.subsystem, " ", ngx.config.ngx_lua_version >= 10000,
                    " ", type(ngx.config.debug), " ", ngx.config.nginx_version > 1000000)
            ngx.say(ngx.config.prefix() == "$TEST_NGINX_SERVROOT/" or ngx.config.prefix())
            ngx.say(type(ngx.config.nginx_configure()))
        }
    }
--- request
GET /t
--- response_body
http true boolean true
true
string



=== TEST 7: ngx.worker
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.worker.pid() > 0, " ", ngx.worker.id(), " ", ngx.worker.count(), " ", ngx.worker.exiting())
        }
    }
--- request
GET /t
--- response_body
true 0 1 false



=== TEST 8: time functions agree with each other
--- config
    location = /t {
        content_by_lua_block {
            local t, n = ngx.time(), ngx.now()
            ngx.say(math.abs(n - t) < 1, " ", math.abs(t - os.time()) < 2)
            ngx.say(ngx.today() == os.date("%Y-%m-%d", t))
            ngx.say(ngx.localtime() == os.date("%Y-%m-%d %H:%M:%S", t))
            ngx.say(ngx.utctime() == os.date("!%Y-%m-%d %H:%M:%S", t))
            ngx.update_time()
            ngx.say(ngx.now() >= n)
        }
    }
--- request
GET /t
--- response_body
true true
true
true
true
true



=== TEST 9: resty.core.time: monotonic_msec and monotonic_time follow nginx's monotonic clock
--- config
    location = /t {
        content_by_lua_block {
            local t = require "resty.core.time"
            local m0 = t.monotonic_msec()
            ngx.sleep(0.05)
            local m1, s1 = t.monotonic_msec(), t.monotonic_time()
            ngx.say(type(m0), " ", m1 - m0 >= 40, " ", m1 - m0 < 1000)
            ngx.say(m1 == math.floor(m1), " ", math.abs(s1 * 1000 - m1) < 1000)
        }
    }
--- request
GET /t
--- response_body
number true true
true true
--- no_error_log
[error]



=== TEST 10: ngx.get_phase in every request phase
--- config
    location = /t {
        rewrite_by_lua_block { ngx.ctx.p = { ngx.get_phase() } }
        access_by_lua_block { table.insert(ngx.ctx.p, ngx.get_phase()) }
        content_by_lua_block { table.insert(ngx.ctx.p, ngx.get_phase()) ngx.say("x") }
        header_filter_by_lua_block { table.insert(ngx.ctx.p, ngx.get_phase()) }
        body_filter_by_lua_block { if ngx.arg[2] then table.insert(ngx.ctx.p, ngx.get_phase()) end }
        log_by_lua_block { table.insert(ngx.ctx.p, ngx.get_phase()) ngx.log(ngx.WARN, "phases: ", table.concat(ngx.ctx.p, " ")) }
    }
--- request
GET /t
--- response_body
x
--- error_log
phases: rewrite access content header_filter body_filter log



=== TEST 11: ngx.is_subrequest is false for a main request
--- config
    location = /t {
        content_by_lua_block { ngx.say(ngx.is_subrequest) }
    }
--- request
GET /t
--- response_body
false



=== TEST 12: require "ngx" gives the ngx table
--- config
    location = /t {
        content_by_lua_block { ngx.say(require("ngx") == ngx) }
    }
--- request
GET /t
--- response_body
true



=== TEST 13: a Lua C module from the distribution (lua-cjson) loads
--- http_config
    lua_package_cpath "/usr/lib/x86_64-linux-gnu/lua/5.1/?.so;;";
--- config
    location = /t {
        content_by_lua_block {
            local cjson = require "cjson"
            ngx.say(cjson.encode({ a = { 1, 2 } }), " ", cjson.null == ngx.null)
        }
    }
--- request
GET /t
--- response_body
{"a":[1,2]} true



=== TEST 14: lua_package_path with ;; and $prefix
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(require("mymodule").hi(), " ", package.path:find(";;", 1, true) == nil)
        }
    }
--- user_files
>>> mymodule.lua
return { hi = function() return "module loaded" end }
--- request
GET /t
--- response_body
module loaded true



=== TEST 15: LuaJIT extras used by lua-resty libraries
--- config
    location = /t {
        content_by_lua_block {
            local buffer = require "string.buffer"
            local new_tab = require "table.new"
            local t = setmetatable({}, { __len = function() return 7 end })
            ngx.say(type(buffer.new), " ", type(new_tab), " ", #t, " ", jit ~= nil)
        }
    }
--- request
GET /t
--- response_body
function function 7 true



=== TEST 16: table.new, table.clear and string.buffer work as LuaJIT 2.1 documents them
--- config
    location = /t {
        content_by_lua_block {
            local new_tab = require "table.new"
            local clear_tab = require "table.clear"
            local t = new_tab(4, 2)
            t[1], t[2], t.a = "x", "y", "z"
            clear_tab(t)
            ngx.say(next(t) == nil, " ", #t)
            local buf = require("string.buffer").new()
            buf:put("a", 1, "b"):putf("%d", 42)
            ngx.say(buf:tostring(), " ", #buf)
        }
    }
--- request
GET /t
--- response_body
true 0
a1b42 5
--- no_error_log
[error]



=== TEST 17: resty.core is loaded when the VM starts; requiring it again is a no-op
--- config
    location = /t {
        content_by_lua_block {
            local before = package.loaded["resty.core"]
            local again = require "resty.core"
            ngx.say(type(before), " ", rawequal(before, again), " ", type(ngx.re.match))
        }
    }
--- request
GET /t
--- response_body
table true function
--- no_error_log
[error]



=== TEST 18: ngx.get_raw_phase and ngx._phase_ctx give upstream's raw context numbers; ngx has upstream's 117 entries
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.ctx.rewrite = ngx.get_raw_phase(require("resty.core.base").get_request())
                .. " " .. ngx._phase_ctx()
        }
        content_by_lua_block {
            local n = 0
            for _ in pairs(ngx) do n = n + 1 end
            ngx.say("entries: ", n)
            ngx.say("rewrite: ", ngx.ctx.rewrite)
            ngx.say("content: ", ngx.get_raw_phase(require("resty.core.base").get_request()),
                    " ", ngx._phase_ctx())
            local t = {}
            ngx.timer.at(0, function() t.timer = ngx._phase_ctx() end)
            ngx.sleep(0.02)
            ngx.say("timer: ", t.timer)
        }
        log_by_lua_block {
            ngx.log(ngx.WARN, "log raw phase: ", ngx._phase_ctx())
        }
    }
--- request
GET /t
--- response_body
entries: 117
rewrite: 2 2
content: 8 8
timer: 128
--- error_log
log raw phase: 16
--- no_error_log
[error]
