# Cosockets of a worker that is shutting down (HUP reload, QUIT, TERM).
use Test::Nginx::Socket::Lua;

master_on();
workers(1);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: setkeepalive in a worker that is shutting down closes the connection, so the worker exits after a reload
--- http_config
    lua_shared_dict pids 1m;
--- config
    location = /t {
        content_by_lua_block {
            local ffi = require "ffi"
            ffi.cdef [[ int kill(int pid, int sig); int getppid(void); ]]
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.shared.pids:set("old", ngx.worker.pid())
            -- Reload: the master starts a new worker and tells this one to
            -- shut down gracefully while the request still runs.
            assert(ffi.C.kill(ffi.C.getppid(), 1) == 0)
            ngx.sleep(0.5)
            ngx.say("exiting: ", ngx.worker.exiting())
            ngx.say("setkeepalive: ", sock:setkeepalive(60000))
        }
    }
    location = /check {
        content_by_lua_block {
            local pid = ngx.shared.pids:get("old")
            ngx.say("other worker: ", pid ~= ngx.worker.pid())
            for _ = 1, 60 do
                local f = io.open("/proc/" .. pid .. "/stat")
                if not f then
                    ngx.say("old worker exited")
                    return
                end
                local state = f:read("*a"):match("^%d+ %b() (%a)")
                f:close()
                if state == "Z" then
                    ngx.say("old worker exited")
                    return
                end
                ngx.sleep(0.05)
            end
            ngx.say("old worker still running")
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- request eval
["GET /t", "GET /check"]
--- response_body eval
["exiting: true\nsetkeepalive: 1\n", "other worker: true\nold worker exited\n"]
--- timeout: 6
--- no_error_log
[error]



=== TEST 2: connections idle in a pool are closed when the worker starts shutting down
--- http_config
    lua_shared_dict pids 1m;
--- config
    location = /t {
        content_by_lua_block {
            local ffi = require "ffi"
            ffi.cdef [[ int kill(int pid, int sig); int getppid(void); ]]
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say("setkeepalive: ", sock:setkeepalive(60000))
            ngx.shared.pids:set("old", ngx.worker.pid())
            assert(ffi.C.kill(ffi.C.getppid(), 1) == 0)
            -- Until the new worker took over.
            ngx.sleep(0.5)
        }
    }
    location = /check {
        content_by_lua_block {
            local pid = ngx.shared.pids:get("old")
            ngx.say("other worker: ", pid ~= ngx.worker.pid())
            for _ = 1, 60 do
                local f = io.open("/proc/" .. pid .. "/stat")
                if not f then
                    ngx.say("old worker exited")
                    return
                end
                local state = f:read("*a"):match("^%d+ %b() (%a)")
                f:close()
                if state == "Z" then
                    ngx.say("old worker exited")
                    return
                end
                ngx.sleep(0.05)
            end
            ngx.say("old worker still running")
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- request eval
["GET /t", "GET /check"]
--- response_body eval
["setkeepalive: 1\n", "other worker: true\nold worker exited\n"]
--- timeout: 6
--- no_error_log
[error]



=== TEST 3: a worker terminated (TERM) while a connect waits for the resolver exits cleanly
--- config
    location = /t {
        resolver 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ipv6=off;
        resolver_timeout 5s;
        content_by_lua_block {
            local ffi = require "ffi"
            ffi.cdef [[ int kill(int pid, int sig); int getppid(void); ]]
            ngx.timer.at(0.2, function()
                ngx.log(ngx.WARN, "terminating")
                ffi.C.kill(ffi.C.getppid(), 15)
            end)
            local sock = ngx.socket.tcp()
            sock:settimeout(10000)
            local ok, err = sock:connect("www.example.invalid", 80)
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- abort
--- timeout: 1
--- ignore_response
--- wait: 0.5
--- error_log
terminating
--- no_error_log eval
[qr/exited on signal/, qr/\[alert\]/]
