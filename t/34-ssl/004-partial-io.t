# ssl_certificate_by_lua* with the partial-I/O shim always on
# (t/mockeagain): the ClientHello is peeked a byte more at a time, with
# faked EAGAINs, and the handler still runs before nginx's handshake and
# picks the certificate (a peek that would block once handed the
# connection to nginx without the handler).
BEGIN {
    $ENV{TEST_NGINX_MOCKEAGAIN} = 'rw';
    $ENV{TEST_NGINX_MOCKEAGAIN_SEED} = 3;
}
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test b.test fallback.test));

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ssl_certificate_by_lua_block: handshakes under partial reads pick the certificate of their name
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_SSL_DIR/fallback.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/fallback.test.key;
        ssl_certificate_by_lua_block {
            local ssl = require "ngx.ssl"
            local name = ssl.server_name()
            ngx.sleep(0.001)
            local function read(p)
                local f = assert(io.open(p, "rb"))
                local s = f:read("*a")
                f:close()
                return s
            end
            ssl.clear_certs()
            assert(ssl.set_der_cert(read("$TEST_NGINX_SSL_DIR/" .. name .. ".crt.der")))
            assert(ssl.set_der_priv_key(read("$TEST_NGINX_SSL_DIR/" .. name .. ".key.der")))
        }
        location / { return 200 ok; }
    }
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
    location = /t {
        content_by_lua_block {
            for i = 1, 6 do
                local name = i % 2 == 0 and "a.test" or "b.test"
                local sock = ngx.socket.tcp()
                sock:settimeout(10000)
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
                local ok, err = sock:sslhandshake(nil, name, true)
                ngx.say(name, ": ", ok and "verified" or err)
                sock:close()
            end
        }
    }
--- request
GET /t
--- response_body
b.test: verified
a.test: verified
b.test: verified
a.test: verified
b.test: verified
a.test: verified
--- no_error_log
[alert]
