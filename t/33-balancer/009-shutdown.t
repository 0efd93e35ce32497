# A worker's graceful shutdown (master process on) closes the idle
# connections of the balancer's keepalive pool at once instead of waiting
# for their idle timeout.
use Test::Nginx::Socket::Lua;

master_on();
workers(1);
repeat_each(1);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: a graceful shutdown closes the pool's idle connections at once
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive(3600))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "$connection_requests\n"; }
    }
--- config
    location = /t {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://backend/;
    }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["1\n", "2\n"]
--- shutdown_error_log
lua balancer: keepalive closing connection
--- no_error_log
[error]
