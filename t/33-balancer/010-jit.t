# ngx.balancer's functions are FFI calls: loops over them compile to traces.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: set_current_peer, enable_keepalive, set_more_tries, get_last_failure loops are JIT-compiled
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local port = $TEST_NGINX_RAND_PORT_1
            local events
            local function on_trace(what)
                events[#events + 1] = what
            end
            local cases = {
                set_current_peer = function() for i = 1, 300 do b.set_current_peer("127.0.0.1", port) end end,
                enable_keepalive = function() for i = 1, 300 do b.enable_keepalive(60, 100) end end,
                set_more_tries = function() for i = 1, 300 do b.set_more_tries(0) end end,
                get_last_failure = function() for i = 1, 300 do b.get_last_failure() end end,
            }
            for _, name in ipairs{"set_current_peer", "enable_keepalive", "set_more_tries", "get_last_failure"} do
                events = {}
                jit.attach(on_trace, "trace")
                cases[name]()
                jit.attach(on_trace)
                local stops = 0
                for _, e in ipairs(events) do
                    if e == "stop" then stops = stops + 1 end
                end
                ngx.log(ngx.WARN, name, ": traces ", stops > 0)
            end
            b.set_current_peer("127.0.0.1", port)
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/\w+: traces \w+/
--- grep_error_log_out
set_current_peer: traces true
enable_keepalive: traces true
set_more_tries: traces true
get_last_failure: traces true
--- no_error_log
[error]
