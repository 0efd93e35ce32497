# ngx.timer.at / ngx.timer.every.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: timer: ngx.timer.at gives 1; the timer fires after the request that created it ended, with its arguments
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = ngx.timer.at(0.05, function(premature, a, b)
                ngx.log(ngx.WARN, "timer fired: ", premature, " ", a, " ", b, " phase ", ngx.get_phase())
            end, "x", 42)
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
1 nil
--- wait: 0.2
--- error_log eval
qr/\[warn\] .*timer fired: false x 42 phase timer, context: ngx\.timer/
--- no_error_log
[error]



=== TEST 2: timer: every runs repeatedly until the worker exits
--- config
    location = /t {
        content_by_lua_block {
            local n = 0
            ngx.timer.every(0.02, function(premature)
                n = n + 1
                if n <= 3 then ngx.log(ngx.WARN, "tick ", n) end
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.2
--- error_log
tick 1
tick 2
tick 3



=== TEST 3: timer: ngx.sleep, ngx.ctx and nested timers inside a callback
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                ngx.ctx.v = "ctx works"
                ngx.sleep(0.01)
                ngx.timer.at(0, function()
                    ngx.log(ngx.WARN, "nested timer ran")
                end)
                ngx.log(ngx.WARN, "after sleep: ", ngx.ctx.v)
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log
after sleep: ctx works
nested timer ran



=== TEST 4: timer: request-only APIs are disabled inside callbacks: those upstream guards by context name ngx.timer, the others say "in the current context", as upstream's refusal of a fake request
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local ok, e1 = pcall(ngx.say, "x")
                local ok2, e2 = pcall(function() return ngx.var.uri end)
                local ok3, e3 = pcall(function() local h = ngx.header.foo; return h end)
                local ok4, e4 = pcall(function() local h = ngx.req.get_headers(); return h end)
                local ok5, e5 = pcall(function() ngx.exec("/x") end)
                local ok6, e6 = pcall(function() ngx.req.discard_body() end)
                local ok7, e7 = pcall(function() ngx.req.read_body() end)
                local ok8, e8 = pcall(function() ngx.say("x") end)
                local ok9, e9 = pcall(function() ngx.flush() end)
                local ok10, e10 = pcall(function() ngx.on_abort(print) end)
                ngx.log(ngx.WARN, "say in function: ", e8)
                ngx.log(ngx.WARN, "flush: ", e9)
                ngx.log(ngx.WARN, "on_abort: ", e10)
                local checks = {
                    set_header = function() ngx.req.set_header("a", "b") end,
                    clear_header = function() ngx.req.clear_header("a") end,
                    header_set = function() ngx.header.foo = "1" end,
                    headers_sent = function() local s = ngx.headers_sent; return s end,
                    get_body_data = function() local d = ngx.req.get_body_data(); return d end,
                    get_body_file = function() local f = ngx.req.get_body_file(); return f end,
                    get_post_args = function() local a = ngx.req.get_post_args(); return a end,
                }
                for _, k in ipairs({ "set_header", "clear_header", "header_set", "headers_sent",
                                     "get_body_data", "get_body_file", "get_post_args" }) do
                    local ok, e = pcall(checks[k])
                    ngx.log(ngx.WARN, k, ": ", ok, " ", e)
                end
                ngx.log(ngx.WARN, "say: ", e1)
                ngx.log(ngx.WARN, "var: ", e2)
                ngx.log(ngx.WARN, "header: ", e3)
                ngx.log(ngx.WARN, "get_headers: ", e4)
                ngx.log(ngx.WARN, "exec: ", e5)
                ngx.log(ngx.WARN, "discard_body: ", e6)
                ngx.log(ngx.WARN, "read_body: ", e7)
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log eval
["say: API disabled in the context of ngx.timer",
qr/var: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/header: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/get_headers: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/exec: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the context of ngx\.timer/,
qr/discard_body: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/read_body: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the context of ngx\.timer/,
qr/say in function: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the context of ngx\.timer/,
qr/flush: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the context of ngx\.timer/,
qr/on_abort: content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the context of ngx\.timer/,
qr/set_header: false content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/clear_header: false content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/header_set: false content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/headers_sent: false content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/get_body_data: false content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/get_body_file: false content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
qr/get_post_args: false content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/]



=== TEST 5: timer: an error in a callback is logged with context
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function() error("timer boom") end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log eval
qr/lua entry thread aborted: runtime error: content_by_lua\(nginx\.conf:\d+\):2: timer boom/



=== TEST 6: timer: lua_max_pending_timers
--- http_config
    lua_max_pending_timers 2;
--- config
    location = /t {
        content_by_lua_block {
            local f = function() end
            ngx.say(ngx.timer.at(10, f))
            ngx.say(ngx.timer.at(10, f))
            ngx.say(ngx.timer.at(10, f))
            ngx.say(ngx.timer.pending_count(), " ", ngx.timer.running_count())
        }
    }
--- request
GET /t
--- response_body
1
1
niltoo many pending timers
2 0



=== TEST 7: timer: lua_max_running_timers: a timer beyond it is dropped with upstream's alert naming where its function was defined
--- http_config
    lua_max_running_timers 1;
--- config
    location = /t {
        content_by_lua_block {
            local f = function() ngx.sleep(0.05) end
            ngx.timer.at(0, f)
            ngx.timer.at(0.01, f)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.15
--- error_log eval
qr/\[alert\] .*lua failed to run timer with function defined at =content_by_lua\(nginx\.conf:\d+\):2: 1 lua_max_running_timers are not enough/



=== TEST 8: timer: bad arguments
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.timer.at, 1)))
            ngx.say(select(2, pcall(ngx.timer.at, "x", print)))
            ngx.say(select(2, pcall(ngx.timer.at, -1, print)))
            ngx.say(select(2, pcall(ngx.timer.at, 1, "nope")))
            ngx.say(select(2, pcall(ngx.timer.every, 0, function() end)))
        }
    }
--- request
GET /t
--- response_body
expecting at least 2 arguments but got 1
bad argument #1 to 'at' (number expected, got string)
bad argument #1 to 'at' (delay must not be negative)
bad argument #2 to 'at' (Lua function expected)
delay cannot be zero



=== TEST 9: timer: created in init_worker_by_lua
--- http_config
    init_worker_by_lua_block {
        ngx.timer.at(0, function(premature)
            ngx.log(ngx.WARN, "init worker timer ran, premature: ", premature)
        end)
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
    }
--- request
GET /t
--- response_body
ok
--- error_log
init worker timer ran, premature: false



=== TEST 10: timer: refused in init_by_lua (no event loop in the master)
--- http_config
    init_by_lua_block {
        local ok, err = pcall(ngx.timer.at, 0, function() end)
        init_timer_err = err
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say(init_timer_err) }
    }
--- request
GET /t
--- response_body
no request



=== TEST 12: timer: ngx.exit ends the callback
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                ngx.log(ngx.WARN, "before exit")
                ngx.exit(0)
                ngx.log(ngx.WARN, "after exit")
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log
before exit
--- no_error_log
after exit



=== TEST 13: timer: light threads inside a callback
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local t = ngx.thread.spawn(function() ngx.sleep(0.01) return "from thread" end)
                local ok, v = ngx.thread.wait(t)
                ngx.log(ngx.WARN, "timer got: ", v)
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log
timer got: from thread



=== TEST 14: timer: shared dicts and cosockets inside callbacks
--- http_config
    lua_shared_dict timers 1m;
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local d = ngx.shared.timers
                d:set("k", 1)
                d:incr("k", 41)
                local sock = ngx.socket.tcp()
                local ok, err = sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT)
                sock:send("PING\r\n")
                ngx.log(ngx.WARN, "timer dict: ", d:get("k"), " redis: ", sock:receive())
                sock:setkeepalive()
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.2
--- error_log
timer dict: 42 redis: +PONG



=== TEST 15: timer: NaN, infinite and huge delays are refused by every (upstream's "delay cannot be zero") and by NaN checks; at(math.huge) fires once at once
--- config
    location = /t {
        content_by_lua_block {
            local runs = 0
            local function f() runs = runs + 1 end
            local cases = { nan = 0/0, inf = math.huge, ["1e300"] = 1e300, ["2^53"] = 2^53 }
            for _, k in ipairs({ "nan", "inf", "1e300", "2^53" }) do
                ngx.say(k, ": every ", select(2, pcall(ngx.timer.every, cases[k], f)))
            end
            ngx.say("at nan: ", select(2, pcall(ngx.timer.at, 0/0, f)))
            ngx.say("at -inf: ", select(2, pcall(ngx.timer.at, -math.huge, f)))
            ngx.say("at inf: ", ngx.timer.at(math.huge, f))
            ngx.sleep(0.05)
            ngx.say("runs: ", runs, ", pending: ", ngx.timer.pending_count())
        }
    }
--- request
GET /t
--- response_body
nan: every bad argument #1 to 'every' (delay must not be NaN)
inf: every delay cannot be zero
1e300: every delay cannot be zero
2^53: every 1
at nan: bad argument #1 to 'at' (delay must not be NaN)
at -inf: bad argument #1 to 'at' (delay must not be negative)
at inf: 1
runs: 1, pending: 1
--- no_error_log
[error]



=== TEST 16: timer: a callback's log lines name the client and the server of the request that created the timer, and so do those of a timer it creates; init_worker's timers name none
--- http_config
    init_worker_by_lua_block {
        ngx.timer.at(0, function()
            ngx.log(ngx.WARN, "from init_worker")
        end)
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                ngx.log(ngx.WARN, "outer")
                ngx.timer.at(0, function()
                    ngx.log(ngx.WARN, "inner")
                end)
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log eval
[qr/\[warn\] .*outer, context: ngx\.timer, client: 127\.0\.0\.1, server: [\d.]+:\d+$/,
qr/\[warn\] .*inner, context: ngx\.timer, client: 127\.0\.0\.1, server: [\d.]+:\d+$/,
qr/\[warn\] .*from init_worker, context: ngx\.timer$/]
--- no_error_log
[error]



=== TEST 17: timer: ngx.status, ngx.headers_sent and ngx.is_subrequest raise "API disabled in the current context" at the caller's line
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local ok, err = pcall(function() return ngx.status end)
                ngx.log(ngx.WARN, "read status: ", err)
                ok, err = pcall(function() ngx.status = 200 end)
                ngx.log(ngx.WARN, "write status: ", err)
                ok, err = pcall(function() return ngx.headers_sent end)
                ngx.log(ngx.WARN, "headers_sent: ", err)
                ok, err = pcall(function() return ngx.is_subrequest end)
                ngx.log(ngx.WARN, "is_subrequest: ", err)
            end)
            local ok, err = pcall(function() ngx.status = {} end)
            ngx.say(err)
        }
    }
--- request
GET /t
--- response_body_like
^content_by_lua\(nginx\.conf:\d+\):12: attempt to set ngx\.status to a table value$
--- wait: 0.1
--- error_log eval
[qr/read status: content_by_lua\(nginx\.conf:\d+\):3: API disabled in the current context,/,
qr/write status: content_by_lua\(nginx\.conf:\d+\):5: API disabled in the current context,/,
qr/headers_sent: content_by_lua\(nginx\.conf:\d+\):7: API disabled in the current context,/,
qr/is_subrequest: content_by_lua\(nginx\.conf:\d+\):9: API disabled in the current context,/]
--- no_error_log
[error]
