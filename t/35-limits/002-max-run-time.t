# lua_max_run_time (an extension): Lua code that runs longer than the
# limit without yielding fails, its request gets 500, the worker goes on.
# Loops are stopped interpreted and JIT-compiled alike.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_max_run_time: an interpreted loop that never yields is stopped, the same worker serves the next request
--- http_config
    lua_max_run_time 100ms;
    lua_shared_dict d 1m;
--- config
    location = /loop {
        content_by_lua_block {
            ngx.shared.d:set("pid", ngx.worker.pid())
            local function spin()
                while true do end
            end
            jit.off(spin)
            spin()
        }
    }
    location = /ok {
        content_by_lua_block {
            ngx.say(ngx.shared.d:get("pid") == ngx.worker.pid() and "same worker" or "another worker")
        }
    }
--- request eval
["GET /loop", "GET /ok"]
--- error_code eval
[500, 200]
--- response_body_like eval
["500 Internal Server Error", "^same worker\$"]
--- no_error_log eval
["[alert]", "[crit]"]
--- timeout: 5



=== TEST 2: lua_max_run_time: the error names the handler, the line and the limit
--- http_config
    lua_max_run_time 100ms;
--- config
    location = /loop {
        content_by_lua_block {
            local function spin()
                while true do end
            end
            jit.off(spin)
            spin()
        }
    }
--- request
GET /loop
--- error_code: 500
--- error_log eval
qr/lua entry thread aborted: runtime error: content_by_lua\(nginx\.conf:\d+\):\d+: ran longer than lua_max_run_time \(100 ms\) without yielding/
--- timeout: 5



=== TEST 3: lua_max_run_time: a JIT-compiled loop is stopped
--- http_config
    lua_max_run_time 100ms;
--- config
    location = /loop {
        content_by_lua_block {
            jit.on()
            local n = 0
            while true do n = n + 1 end
        }
    }
    location = /ok {
        content_by_lua_block { ngx.say("alive") }
    }
--- request eval
["GET /loop", "GET /ok"]
--- error_code eval
[500, 200]
--- response_body_like eval
["500 Internal Server Error", "^alive\$"]
--- no_error_log eval
["[alert]", "[crit]"]
--- timeout: 5



=== TEST 4: lua_max_run_time: the loop of the JIT test really was compiled into a trace
--- http_config
    lua_max_run_time 100ms;
--- config
    location = /loop {
        content_by_lua_block {
            local loaded = package.loaded
            loaded.__stopped_traces = 0
            jit.attach(function(what)
                if what == "stop" then
                    loaded.__stopped_traces = loaded.__stopped_traces + 1
                end
            end, "trace")
            jit.on()
            local n = 0
            while true do n = n + 1 end
        }
    }
    location = /traces {
        content_by_lua_block {
            ngx.say("traces compiled: ", package.loaded.__stopped_traces > 0)
        }
    }
--- request eval
["GET /loop", "GET /traces"]
--- error_code eval
[500, 200]
--- response_body_like eval
["500 Internal Server Error", "^traces compiled: true\$"]
--- timeout: 5



=== TEST 5: lua_max_run_time: a long string.rep/gsub loop is stopped
--- http_config
    lua_max_run_time 100ms;
--- config
    location = /loop {
        content_by_lua_block {
            local n = 0
            while true do
                local s = string.rep("a", 1000)
                s = s:gsub("a", "b")
                n = n + #s
            end
        }
    }
--- request
GET /loop
--- error_code: 500
--- error_log
ran longer than lua_max_run_time (100 ms) without yielding
--- timeout: 5



=== TEST 6: lua_max_run_time: a pcall inside the loop does not swallow the stop
--- http_config
    lua_max_run_time 100ms;
--- config
    location = /loop {
        content_by_lua_block {
            while true do
                pcall(function()
                    while true do end
                end)
            end
        }
    }
--- request
GET /loop
--- error_code: 500
--- error_log
ran longer than lua_max_run_time (100 ms) without yielding
--- timeout: 5



=== TEST 7: lua_max_run_time: a handler that yields often runs longer than the limit in all
--- http_config
    lua_max_run_time 100ms;
--- config
    location = /t {
        content_by_lua_block {
            local start = ngx.now()
            local slices = 0
            while ngx.now() - start < 0.5 do
                local t0 = ngx.now()
                repeat ngx.update_time() until ngx.now() - t0 >= 0.02
                slices = slices + 1
                ngx.sleep(0)
            end
            ngx.say("done after more than 0.4 s: ", ngx.now() - start > 0.4, ", slices > 10: ", slices > 10)
        }
    }
--- request
GET /t
--- response_body
done after more than 0.4 s: true, slices > 10: true
--- no_error_log
[error]
epoll_wait() failed
--- timeout: 5



=== TEST 8: lua_max_run_time: a timer that never yields is stopped, the worker goes on
--- http_config
    lua_max_run_time 100ms;
    lua_shared_dict d 1m;
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local n = 0
                while true do n = n + 1 end
                ngx.shared.d:set("done", true)
            end)
            ngx.sleep(0.5)
            ngx.say("timer finished: ", ngx.shared.d:get("done") == true)
        }
    }
--- request
GET /t
--- response_body
timer finished: false
--- error_log eval
[qr/lua entry thread aborted: runtime error: content_by_lua\(nginx\.conf:\d+\):\d+: ran longer than lua_max_run_time \(100 ms\) without yielding/,
 "context: ngx.timer"]
--- timeout: 5



=== TEST 9: lua_max_run_time: a light thread that never yields is stopped, its parent goes on
--- http_config
    lua_max_run_time 100ms;
--- config
    location = /t {
        content_by_lua_block {
            local th = ngx.thread.spawn(function()
                ngx.sleep(0)
                while true do end
            end)
            local ok, err = ngx.thread.wait(th)
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body_like
^false .*ran longer than lua_max_run_time \(100 ms\) without yielding
--- error_log
lua user thread aborted: runtime error:
--- timeout: 5



=== TEST 10: lua_max_run_time: in init_worker_by_lua the handler fails and the worker serves
--- http_config
    lua_max_run_time 100ms;
    init_worker_by_lua_block {
        local n = 0
        while true do n = n + 1 end
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say("serving") }
    }
--- request
GET /t
--- response_body
serving
--- error_log eval
qr/init_worker_by_lua(?:_block)?\(nginx\.conf:\d+\):\d+: ran longer than lua_max_run_time \(100 ms\) without yielding/
--- timeout: 5



=== TEST 11: lua_max_run_time: a step just under the limit is not stopped
--- http_config
    lua_max_run_time 300ms;
--- config
    location = /t {
        content_by_lua_block {
            ngx.update_time()
            local t0 = ngx.now()
            repeat ngx.update_time() until ngx.now() - t0 >= 0.1
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]



=== TEST 12: lua_max_run_time: an invalid time is refused at nginx -t
--- http_config
    lua_max_run_time 10parsecs;
--- config
--- must_die
--- error_log
invalid value "10parsecs"



=== TEST 13: lua_max_run_time: zero is refused
--- http_config
    lua_max_run_time 0;
--- config
--- must_die
--- error_log
invalid value "0"



=== TEST 14: lua_max_run_time: not allowed in a server
--- config
    lua_max_run_time 1s;
--- must_die
--- error_log
"lua_max_run_time" directive is not allowed here
