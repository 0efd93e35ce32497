# lua_ssl_key_log: cosocket TLS connections log their secrets in the
# SSLKEYLOGFILE format; the client random logged is the one the server
# sees (ngx.ssl.get_client_random).
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test));

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_ssl_key_log: the secrets of a TLS 1.3 handshake, keyed by the client random the server saw
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        location / {
            content_by_lua_block {
                local r = require("ngx.ssl").get_client_random()
                ngx.print((r:gsub(".", function(c) return string.format("%02x", c:byte()) end)))
            }
        }
    }
--- config
    lua_ssl_key_log logs/keys.log;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:sslhandshake(nil, "a.test", false))
            sock:send("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            local random = sock:receive("*a"):match("\r\n\r\n(.*)")
            sock:close()
            local f = assert(io.open(ngx.config.prefix() .. "logs/keys.log"))
            local log = f:read("*a")
            f:close()
            local labels = {}
            for label, cr in log:gmatch("(%S+) (%x+) %x+\n") do
                if cr == random then
                    labels[#labels + 1] = label
                end
            end
            table.sort(labels)
            ngx.say(#random, " ", table.concat(labels, " "))
        }
    }
--- request
GET /t
--- response_body
64 CLIENT_HANDSHAKE_TRAFFIC_SECRET CLIENT_TRAFFIC_SECRET_0 EXPORTER_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET SERVER_TRAFFIC_SECRET_0
--- no_error_log
[error]



=== TEST 2: lua_ssl_key_log: one per level
--- config
    lua_ssl_key_log logs/a.log;
    lua_ssl_key_log logs/b.log;
--- request
GET /t
--- must_die
--- error_log
"lua_ssl_key_log" directive is duplicate
