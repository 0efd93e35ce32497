# The session cache of the example configuration
# (nginx-conf/ssl-session.conf), included as it is.
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use TestSslCerts;

$ENV{TEST_NGINX_EXAMPLE_CONF} = abs_path(dirname(__FILE__) . "/../../nginx-conf/ssl-session.conf");
$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test));

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: nginx-conf/ssl-session.conf: sessions are kept in the shared dict for 300 s and resumed by id (TLS 1.2)
--- http_config
    include $TEST_NGINX_EXAMPLE_CONF;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_session_tickets off;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        location / {
            return 200 "reused=$ssl_session_reused";
        }
    }
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s
            for i = 1, 3 do
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
                s = assert(sock:sslhandshake(s, "a.test", false))
                sock:send("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                ngx.say(i, ": ", sock:receive("*a"):match("\r\n\r\n(.*)"))
                sock:close()
            end
            local ttl = ngx.shared.ssl_sessions:ttl(ngx.shared.ssl_sessions:get_keys()[1])
            ngx.say("kept for up to 300 s: ", ttl > 290 and ttl <= 300)
        }
    }
--- request
GET /t
--- response_body
1: reused=.
2: reused=r
3: reused=r
kept for up to 300 s: true
--- no_error_log
[error]
[warn]
