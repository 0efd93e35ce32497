# ngx.balancer.recreate_request and set_upstream_tls: changing what the
# try sends (headers from variables, the body) and whether it speaks TLS.
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

$ENV{TEST_NGINX_CERT_DIR} ||= abs_path(dirname(__FILE__) . "/../cert");

repeat_each(2);
plan 'no_plan';
no_long_string();

# Backends: _1 echoes the X-Try header and the body; _2 answers 502; _3
# is the same as _1 over TLS.
add_block_preprocessor(sub {
    my $block = shift;
    my $backends = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        location / {
            content_by_lua_block {
                ngx.req.read_body()
                ngx.say("scheme=", ngx.var.scheme, " try=", ngx.var.http_x_try,
                        " body=", ngx.req.get_body_data())
            }
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { return 502; }
    }
_EOC_
    $block->set_value("http_config", ($block->http_config // '') . $backends);
});

run_tests();

__DATA__

=== TEST 1: recreate_request: a header set from a variable the balancer changed reaches the retry
--- http_config
    proxy_next_upstream error http_502;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local n = (ngx.ctx.n or 0) + 1
            ngx.ctx.n = n
            ngx.var.try = n
            if n == 1 then
                b.set_more_tries(1)
                assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            else
                if ngx.var.arg_recreate then
                    assert(b.recreate_request())
                end
                assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            end
        }
    }
--- config
    location = /p {
        set $try 0;
        proxy_set_header X-Try $try;
        proxy_pass http://backend;
    }
    location = /t {
        content_by_lua_block {
            ngx.print(ngx.location.capture("/p").body)
            ngx.print(ngx.location.capture("/p?recreate=1").body)
        }
    }
--- request
GET /t
--- response_body
scheme=http try=0 body=nil
scheme=http try=2 body=nil
--- no_error_log
[alert]



=== TEST 2: recreate_request with the body ngx.req.set_body_data set in the balancer
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            ngx.req.set_body_data("from the balancer")
            assert(b.recreate_request())
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
POST /t
original body
--- response_body
scheme=http try=nil body=from the balancer
--- no_error_log
[error]



=== TEST 3: recreate_request on the first try, with a body read from the client
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.recreate_request())
            assert(b.recreate_request())
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    location = /t {
        proxy_set_header X-Try "client";
        proxy_pass http://backend;
    }
--- request
POST /t
hello
--- response_body
scheme=http try=client body=hello
--- no_error_log
[error]



=== TEST 4: set_upstream_tls(false): plain HTTP to a peer of an https:// proxy_pass
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.set_upstream_tls(false))
        }
    }
--- config
    location = /t {
        proxy_pass https://backend;
    }
--- request
GET /t
--- response_body
scheme=http try=nil body=nil
--- no_error_log
[error]



=== TEST 5: set_upstream_tls(true) after false: TLS again
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_3))
            assert(b.set_upstream_tls(false))
            assert(b.set_upstream_tls(true))
        }
    }
--- config
    location = /t {
        proxy_pass https://backend;
    }
--- request
GET /t
--- response_body
scheme=https try=nil body=nil
--- no_error_log
[error]



=== TEST 6: set_upstream_tls(true) where the location has no TLS context to use
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local ok, err = b.set_upstream_tls(true)
            ngx.log(ngx.WARN, "set_upstream_tls: ", ok, " ", err)
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
scheme=http try=nil body=nil
--- error_log
set_upstream_tls: nil no upstream TLS configured
--- no_error_log
[error]
