# TLS toward upstreams: ngx.ssl.get_upstream_ssl_pointer and
# ssl_session_reused(ssl) on proxied requests (the upstream handshake
# handlers are in 011-proxy-ssl.t).
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test));

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.ssl.get_upstream_ssl_pointer: the proxied request's TLS object; ssl_session_reused(ssl) sees nginx's session reuse; get_req_ssl_pointer's "bad request"
--- http_config
    # A zone keeps the upstream's saved session serialized in shared memory
    # (without one nginx keeps an SSL_SESSION it never frees at exit, which
    # valgrind reports).
    upstream backend {
        zone backend 64k;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        ssl_session_cache shared:S:1m;
        ssl_session_tickets off;
        location / {
            return 200 "backend";
        }
    }
--- config
    location = /proxy {
        proxy_pass https://backend/;
        proxy_ssl_protocols TLSv1.2;
        header_filter_by_lua_block {
            local ssl = require "ngx.ssl"
            local p, err = ssl.get_upstream_ssl_pointer()
            ngx.header["X-Type"] = type(p)
            ngx.header["X-Reused"] = tostring(ssl.ssl_session_reused(p))
        }
    }
    location = /t {
        content_by_lua_block {
            for i = 1, 2 do
                local res = ngx.location.capture("/proxy")
                ngx.say(res.body, " ", res.header["X-Type"], " reused=", res.header["X-Reused"])
            end
            local ssl = require "ngx.ssl"
            ngx.say("content: ", select(2, ssl.get_upstream_ssl_pointer()))
            ngx.say("req pointer without TLS: ", select(2, ssl.get_req_ssl_pointer()))
            ngx.say("not a pointer: ", select(2, ssl.ssl_session_reused("x")))
            local ok, err = pcall(function()
                return ngx.timer.at(0, function()
                    ngx.log(ngx.INFO, "timer: ", select(2, ssl.get_upstream_ssl_pointer()))
                end)
            end)
            ngx.sleep(0.01)
        }
    }
--- request
GET /t
--- response_body
backend cdata reused=false
backend cdata reused=true
content: bad upstream
req pointer without TLS: bad request
not a pointer: bad ssl
--- error_log
timer: bad upstream
--- no_error_log
[error]



=== TEST 2: ngx.ssl.get_upstream_ssl_pointer: "no request found" raised outside requests
--- http_config
    init_worker_by_lua_block {
        local ok, err = pcall(require("ngx.ssl").get_upstream_ssl_pointer)
        ngx.log(ngx.INFO, "init_worker: ", ok, " ", err)
    }
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- error_log eval
qr/init_worker: false .*no request found/
--- no_error_log
[error]
