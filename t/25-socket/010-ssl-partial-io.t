# tcpsock:send over TLS with the partial-I/O shim always on (t/mockeagain):
# a send the socket cannot take at once is retried from the socket's own
# copy of the data, which OpenSSL must accept ("bad write retry" before).
BEGIN {
    $ENV{TEST_NGINX_MOCKEAGAIN} = 'w';
    $ENV{TEST_NGINX_MOCKEAGAIN_SEED} = 7;
}
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

$ENV{TEST_NGINX_CERT_DIR} ||= abs_path(dirname(__FILE__) . "/../cert");

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: tcpsock:send: a TLS send that had to wait goes out whole
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        client_body_buffer_size 64k;
        location / {
            content_by_lua_block {
                ngx.req.read_body()
                local body = ngx.req.get_body_data() or ""
                ngx.say("got ", #body, " ", ngx.md5(body))
            }
        }
    }
--- config
    location = /t {
        content_by_lua_block {
            local body = string.rep("0123456789abcdef", 2048)
            for i = 1, 3 do
                local sock = ngx.socket.tcp()
                sock:settimeout(10000)
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
                assert(sock:sslhandshake(false))
                local req = "POST / HTTP/1.0\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
                local n, err = sock:send(req)
                ngx.say(i, " sent all: ", n == #req, " ", err)
                local res = assert(sock:receive("*a"))
                local len, md5 = res:match("got (%d+) (%x+)")
                ngx.say(i, " got ", len, " ", md5 == ngx.md5(body))
                sock:close()
            end
        }
    }
--- request
GET /t
--- response_body
1 sent all: true nil
1 got 32768 true
2 sent all: true nil
2 got 32768 true
3 sent all: true nil
3 got 32768 true
--- mockeagain_max: 256
--- timeout: 30
--- no_error_log
[error]
[crit]
[alert]
