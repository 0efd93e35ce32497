# Retries: the handler runs again for every try nginx's *_next_upstream
# makes; ngx.balancer.get_last_failure, set_more_tries and set_timeouts
# against backends that reset, time out, answer 502 or 404, or refuse.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
no_long_string();

# Backends of every block: $TEST_NGINX_RAND_PORT_1 answers, _2 resets the
# connection, _3 answers after 0.5 s, _4 answers 502, _5 answers 404;
# nothing listens on _6.
add_block_preprocessor(sub {
    my $block = shift;
    my $backends = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            reset_timedout_connection on;
            return 444;
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { content_by_lua_block { ngx.sleep(0.5) ngx.say("late") } }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
        location / { return 502; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_5;
        location / { return 404; }
    }
_EOC_
    $block->set_value("http_config", ($block->http_config // '') . $backends);
});

run_tests();

__DATA__

=== TEST 1: get_last_failure after a reset, a timeout, a 502 and a refused connect; $upstream_addr lists every try
--- http_config
    proxy_next_upstream error timeout http_502;
    proxy_next_upstream_tries 10;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local ports = { $TEST_NGINX_RAND_PORT_2, $TEST_NGINX_RAND_PORT_3,
                            $TEST_NGINX_RAND_PORT_4, $TEST_NGINX_RAND_PORT_6,
                            $TEST_NGINX_RAND_PORT_1 }
            local n = (ngx.ctx.tries or 0) + 1
            ngx.ctx.tries = n
            local state, status = b.get_last_failure()
            ngx.log(ngx.WARN, "try ", n, ": ", state, " ", status)
            if n == 1 then
                assert(b.set_more_tries(4))
            elseif n == 2 then
                assert(b.set_timeouts(nil, nil, 0.2))
            end
            assert(b.set_current_peer("127.0.0.1", ports[n]))
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
        header_filter_by_lua_block {
            ngx.header["X-Addr"] = ngx.var.upstream_addr
            ngx.header["X-Status"] = ngx.var.upstream_status
        }
    }
--- request
GET /t
--- response_body
ok
--- response_headers
X-Addr: 127.0.0.1:$TEST_NGINX_RAND_PORT_2, 127.0.0.1:$TEST_NGINX_RAND_PORT_3, 127.0.0.1:$TEST_NGINX_RAND_PORT_4, 127.0.0.1:$TEST_NGINX_RAND_PORT_6, 127.0.0.1:$TEST_NGINX_RAND_PORT_1
X-Status: 502, 504, 502, 502, 200
--- grep_error_log eval: qr/try \d: \S+ \S+/
--- grep_error_log_out
try 1: nil nil
try 2: failed 502
try 3: failed 504
try 4: failed 502
try 5: failed 502
--- error_log eval
[
qr/recv\(\) failed \(104: Connection reset by peer\) while reading response header from upstream/,
qr/upstream timed out \(110: Connection timed out\) while reading response header from upstream/,
qr/connect\(\) failed \(111: Connection refused\) while connecting to upstream/,
]



=== TEST 2: get_last_failure: a status passed on to the next try is "next"
--- http_config
    proxy_next_upstream error http_404;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local state, status = b.get_last_failure()
            ngx.log(ngx.WARN, "last failure: ", state, " ", status)
            if not state then
                b.set_more_tries(1)
                assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_5))
            else
                assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            end
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/last failure: \S+ \S+/
--- grep_error_log_out
last failure: nil nil
last failure: next 404
--- no_error_log
[error]



=== TEST 3: set_timeouts applies to the try it is called in: a short read timeout fails, a longer one on the retry succeeds
--- http_config
    proxy_next_upstream error timeout;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local first = not b.get_last_failure()
            if first then
                b.set_more_tries(1)
                assert(b.set_timeouts(0.5, 0.5, 0.1))
            else
                assert(b.set_timeouts(nil, nil, 2))
            end
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_3))
        }
    }
--- config
    location = /t {
        proxy_read_timeout 50ms;
        proxy_pass http://backend;
        header_filter_by_lua_block { ngx.header["X-Status"] = ngx.var.upstream_status }
    }
--- request
GET /t
--- response_body
late
--- response_headers
X-Status: 504, 200
--- error_log
upstream timed out



=== TEST 4: set_timeouts changes its own request only
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            if ngx.var.arg_short then
                assert(b.set_timeouts(nil, nil, 0.1))
            end
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_3))
        }
    }
--- config
    location = /p {
        proxy_read_timeout 3s;
        proxy_pass http://backend;
    }
    location = /t {
        content_by_lua_block {
            local short = ngx.location.capture("/p?short=1")
            local default = ngx.location.capture("/p")
            ngx.print(short.status, " ", default.status, " ", default.body)
        }
    }
--- request
GET /t
--- response_body
504 200 late



=== TEST 5: set_timeouts: bad values raise
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            for _, args in ipairs({ { 0 }, { nil, -1 }, { nil, nil, "1" }, { true } }) do
                local ok, err = pcall(b.set_timeouts, args[1], args[2], args[3])
                ngx.log(ngx.WARN, "set_timeouts: ", err)
            end
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/set_timeouts: .*?(?= while connecting)/
--- grep_error_log_out eval
qr/\Aset_timeouts: bad connect timeout
set_timeouts: bad send timeout
set_timeouts: bad read timeout
set_timeouts: bad connect timeout
\z/



=== TEST 6: set_more_tries beyond *_next_upstream_tries is cut, with a warning
--- http_config
    proxy_next_upstream error;
    proxy_next_upstream_tries 2;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local n = (ngx.ctx.tries or 0) + 1
            ngx.ctx.tries = n
            ngx.log(ngx.WARN, "try ", n)
            if n == 1 then
                local ok, err = b.set_more_tries(5)
                ngx.log(ngx.WARN, "set_more_tries: ", ok, ", ", err)
            end
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_6))
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- error_code: 502
--- ignore_response_body
--- grep_error_log eval: qr/try \d|set_more_tries: [^,]*, [^,]*?(?= while)/
--- grep_error_log_out
try 1
set_more_tries: true, reduced tries due to limit
try 2



=== TEST 7: set_more_tries within the limit: no warning, that many retries
--- http_config
    proxy_next_upstream error;
    proxy_next_upstream_tries 10;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local n = (ngx.ctx.tries or 0) + 1
            ngx.ctx.tries = n
            ngx.log(ngx.WARN, "try ", n)
            if n == 1 then
                local ok, err = b.set_more_tries(2)
                ngx.log(ngx.WARN, "set_more_tries: ", ok, ", ", err)
            end
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_6))
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- error_code: 502
--- ignore_response_body
--- grep_error_log eval: qr/try \d|set_more_tries: [^,]*, [^,]*?(?= while)/
--- grep_error_log_out
try 1
set_more_tries: true, nil
try 2
try 3



=== TEST 8: without set_more_tries a block with one server has one try
--- http_config
    proxy_next_upstream error timeout http_502;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            ngx.log(ngx.WARN, "balancer runs")
            assert(require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_4))
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- error_code: 502
--- ignore_response_body
--- grep_error_log: balancer runs
--- grep_error_log_out
balancer runs



=== TEST 9: a failure nginx is not told to retry ends the request, more tries or not
--- http_config
    proxy_next_upstream error;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            ngx.log(ngx.WARN, "balancer runs")
            b.set_more_tries(3)
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_4))
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- error_code: 502
--- ignore_response_body
--- grep_error_log: balancer runs
--- grep_error_log_out
balancer runs



=== TEST 10: a try without a Lua peer goes to the block's servers, and its failure is theirs
--- http_config
    proxy_next_upstream error http_502;
    upstream backend {
        # Two servers: round robin leaves no retry after a lone server fails.
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local state, status = b.get_last_failure()
            ngx.log(ngx.WARN, "last failure: ", state, " ", status)
            if not ngx.ctx.retried then
                ngx.ctx.retried = true
                return
            end
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
        header_filter_by_lua_block { ngx.header["X-Addr"] = ngx.var.upstream_addr }
    }
--- request
GET /t
--- response_body
ok
--- response_headers
X-Addr: 127.0.0.1:$TEST_NGINX_RAND_PORT_4, 127.0.0.1:$TEST_NGINX_RAND_PORT_1
--- grep_error_log eval: qr/last failure: \S+ \S+/
--- grep_error_log_out
last failure: nil nil
last failure: nil nil
