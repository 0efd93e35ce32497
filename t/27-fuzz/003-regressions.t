# Defects the argument fuzzer (001-args.t) found, each pinned by a plain
# test of its own.
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

$ENV{TEST_NGINX_CERT_DIR} ||= abs_path(dirname(__FILE__) . "/../cert");

plan tests => repeat_each() * (blocks() * 4);
run_tests();

__DATA__

=== TEST 1: udpsock:receive: a NaN or huge size reads a datagram instead of sizing a buffer from it
--- config
    location = /t {
        content_by_lua_block {
            local u = ngx.socket.udp()
            u:settimeout(50)
            assert(u:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            for _, size in ipairs({0/0, 2^53, math.huge}) do
                local ok, data, err = pcall(u.receive, u, size)
                ngx.say(tostring(ok), " ", tostring(data), " ", tostring(err))
            end
        }
    }
--- request
GET /t
--- response_body
true nil timeout
true nil timeout
true nil timeout
--- no_error_log
[alert]
panicked

=== TEST 2: tcpsock:sslhandshake: a server name OpenSSL refuses leaves no error behind for the next handshake
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        location / { return 200 "tls\n"; }
    }
--- config
    location = /t {
        content_by_lua_block {
            local s = ngx.socket.tcp()
            assert(s:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            -- longer than the 255 bytes a host name may have
            ngx.say(select(2, s:sslhandshake(nil, string.rep("a", 300))))
            s:close()
            s = ngx.socket.tcp()
            assert(s:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say((s:sslhandshake(nil, "test.com")) ~= nil)
            s:close()
        }
    }
--- request
GET /t
--- response_body
SSL_set_tlsext_host_name failed
true
--- no_error_log
[alert]
stale global SSL error

=== TEST 3: ngx.timer.every/at: a huge delay never fires, instead of wrapping nginx's timer key into the past; beyond ngx_msec_t it is upstream's 0
--- config
    location = /t {
        content_by_lua_block {
            local fired = 0
            local function f() fired = fired + 1 end
            for _, d in ipairs({2^40, 2^53}) do
                assert(ngx.timer.every(d, f))
                assert(ngx.timer.at(d, f))
            end
            -- Upstream's conversion makes these 0: every refuses them.
            for _, d in ipairs({math.huge, 2^63}) do
                ngx.say(select(2, pcall(ngx.timer.every, d, f)))
            end
            ngx.say((select(2, pcall(ngx.timer.every, 0/0, f))))
            ngx.sleep(0.05)
            ngx.say("fired ", fired)
        }
    }
--- request
GET /t
--- response_body
delay cannot be zero
delay cannot be zero
bad argument #1 to 'every' (delay must not be NaN)
fired 0
--- no_error_log
[error]
[alert]

=== TEST 4: tcpsock:connect / udpsock:setpeername: an empty host name fails as upstream instead of connecting to no address (the worker crashed)
--- config
    location = /t {
        content_by_lua_block {
            local s = ngx.socket.tcp()
            ngx.say(s:connect("", 80))
            local u = ngx.socket.udp()
            ngx.say(u:setpeername("", 80))
        }
    }
--- request
GET /t
--- response_body
nilfailed to parse host name "": no host
nilfailed to parse host name "": no host
--- no_error_log
[alert]
[crit]
