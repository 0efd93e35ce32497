# balancer_by_lua* under the other upstream modules: scgi_pass, uwsgi_pass
# and fastcgi_pass talk to a TCP backend the test starts (tcp_listen, which
# answers with a canned reply once the request is in), grpc_pass to an
# HTTP/2 server block.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
no_long_string();

# A FastCGI reply: an FCGI_STDOUT record with the CGI response, then
# FCGI_END_REQUEST, for request id 1.
sub fcgi_reply {
    my $out = shift;
    return pack("CCnnCC", 1, 6, 1, length($out), 0, 0) . $out
        . pack("CCnnCC", 1, 3, 1, 8, 0, 0) . ("\0" x 8);
}

run_tests();

__DATA__

=== TEST 1: scgi_pass: the balancer chooses the SCGI backend
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            ngx.log(ngx.WARN, "scgi balancer")
            assert(require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    location = /t {
        scgi_param REQUEST_METHOD $request_method;
        scgi_param REQUEST_URI $request_uri;
        scgi_pass backend;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nscgi backend\n"
--- tcp_query eval
qr/^\d+:CONTENT_LENGTH\x000\x00REQUEST_METHOD\x00GET\x00REQUEST_URI\x00\/t\x00.*,$/s
--- request
GET /t
--- response_body
scgi backend
--- error_log
scgi balancer
--- no_error_log
[error]



=== TEST 2: uwsgi_pass: the balancer chooses the uwsgi backend
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            ngx.log(ngx.WARN, "uwsgi balancer")
            assert(require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    location = /t {
        uwsgi_param REQUEST_METHOD $request_method;
        uwsgi_pass backend;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuwsgi backend\n"
--- tcp_query eval
qr/\x0e\x00REQUEST_METHOD\x03\x00GET/
--- request
GET /t
--- response_body
uwsgi backend
--- error_log
uwsgi balancer
--- no_error_log
[error]



=== TEST 3: fastcgi_pass: the balancer chooses the FastCGI backend
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            ngx.log(ngx.WARN, "fastcgi balancer")
            assert(require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    location = /t {
        fastcgi_param REQUEST_METHOD $request_method;
        fastcgi_pass backend;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
main::fcgi_reply("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfastcgi backend\n")
--- tcp_query eval
qr/\x0e\x03REQUEST_METHODGET/
--- request
GET /t
--- response_body
fastcgi backend
--- error_log
fastcgi balancer
--- no_error_log
[error]



=== TEST 4: scgi_pass: retries call the balancer again (a refused peer, then the backend)
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local state, status = b.get_last_failure()
            ngx.log(ngx.WARN, "scgi try after: ", state, " ", status)
            if not state then
                b.set_more_tries(1)
                assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            else
                assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            end
        }
    }
--- config
    location = /t {
        scgi_param REQUEST_METHOD $request_method;
        scgi_param REQUEST_URI $request_uri;
        scgi_next_upstream error;
        scgi_pass backend;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nsecond try\n"
--- request
GET /t
--- response_body
second try
--- grep_error_log eval: qr/scgi try after: \S+ \S+/
--- grep_error_log_out
scgi try after: nil nil
scgi try after: failed 502



=== TEST 5: grpc_pass: the balancer chooses the HTTP/2 backend
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            ngx.log(ngx.WARN, "grpc balancer")
            assert(require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 http2;
        location / { return 200 "h2 backend: $server_protocol\n"; }
    }
--- config
    location = /t {
        grpc_pass grpc://backend;
    }
--- request
GET /t
--- response_body
h2 backend: HTTP/2.0
--- error_log
grpc balancer
--- no_error_log
[error]
