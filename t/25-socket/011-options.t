# tcpsock:getoption, setoption and getfd: upstream's option names, values
# and errors, on upstream sockets and request sockets.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan tests => repeat_each() * (blocks() * 3 + 3);
run_tests();

__DATA__

=== TEST 1: getoption/setoption: each option round-trips through the kernel
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
            for _, o in ipairs{"keepalive", "reuseaddr", "tcp-nodelay"} do
                local before = sock:getoption(o)
                assert(sock:setoption(o, true))
                local on = sock:getoption(o)
                assert(sock:setoption(o, 0))
                local off = sock:getoption(o)
                assert(sock:setoption(o, 10))
                ngx.say(o, ": ", before, " ", on, " ", off, " ", sock:getoption(o))
            end
            assert(sock:setoption("keepalive", true))
            assert(sock:setoption("keepintvl", 7))
            assert(sock:setoption("keepcnt", 4))
            ngx.say("keepintvl ", sock:getoption("keepintvl"), ", keepcnt ", sock:getoption("keepcnt"))
            assert(sock:setoption("sndbuf", 16384))
            assert(sock:setoption("rcvbuf", 16384))
            -- Linux doubles the requested buffer sizes
            ngx.say("sndbuf ", sock:getoption("sndbuf") >= 16384, ", rcvbuf ", sock:getoption("rcvbuf") >= 16384)
            sock:close()
        }
    }
--- request
GET /t
--- response_body
keepalive: 0 1 0 1
reuseaddr: 0 1 0 1
tcp-nodelay: 0 1 0 1
keepintvl 7, keepcnt 4
sndbuf true, rcvbuf true
--- no_error_log
[error]



=== TEST 2: getoption/setoption: missing and unsupported arguments, a closed socket
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
            ngx.say(sock:getoption())
            ngx.say(sock:getoption("nodelay"))
            ngx.say(sock:setoption())
            ngx.say(sock:setoption("sndbuf"))
            ngx.say(sock:setoption("nodelay", 1))
            sock:close()
            ngx.say(sock:getoption("keepalive"))
            ngx.say(sock:setoption("keepalive", 1))
            ngx.say(sock:getfd())
        }
    }
--- request
GET /t
--- response_body
nilmissing the "option" argument
nilunsupported option nodelay
nilmissing the "option" argument
nilmissing the "value" argument
nilunsupported option nodelay
nilclosed
nilclosed
nilclosed
--- no_error_log
[error]



=== TEST 3: getoption/getfd: a socket that never connected raises upstream's error
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(pcall(sock.getoption, sock, "keepalive"))
            ngx.say(pcall(sock.getfd, sock))
            ngx.say(pcall(sock.getfd))
        }
    }
--- request
GET /t
--- response_body
falsesocket is never created nor connected
falsesocket is never created nor connected
falsengx.socket getfd: expecting the cosocket object, but seen none
--- no_error_log
[error]



=== TEST 4: getfd: the descriptor of a cosocket and of the request sockets
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
            local fd = sock:getfd()
            -- the descriptor really is this connection: a second socket gets another one
            local other = ngx.socket.tcp()
            assert(other:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
            local ffi = require "ffi"
            -- once per worker (a repeated request would redefine it)
            pcall(ffi.cdef, [[
                struct t_sockaddr_in { uint16_t family; uint16_t port; uint32_t addr; char zero[8]; };
                int getpeername(int fd, struct t_sockaddr_in *addr, unsigned int *len);
                uint16_t ntohs(uint16_t n);
            ]])
            local sa = ffi.new("struct t_sockaddr_in")
            local len = ffi.new("unsigned int[1]", ffi.sizeof(sa))
            assert(ffi.C.getpeername(fd, sa, len) == 0)
            ngx.say(type(fd), " ", fd > 2, " ", fd ~= other:getfd(), " ",
                    ffi.C.ntohs(sa.port) == $TEST_NGINX_REDIS_PORT)
            local rs = ngx.req.socket()
            local rfd = rs:getfd()
            ngx.say(type(rfd), " ", rfd ~= fd)
            sock:close()
            other:close()
        }
    }
--- request
POST /t
hello
--- response_body
number true true true
number true
--- no_error_log
[error]



=== TEST 6: getoption/setoption on the request sockets work on the client connection
--- config
    location = /body {
        content_by_lua_block {
            local rs = assert(ngx.req.socket())
            ngx.say("set: ", rs:setoption("keepalive", true))
            ngx.say("get: ", rs:getoption("keepalive"))
            ngx.say("bad: ", rs:getoption("nodelay"))
            ngx.say(rs:receive(5))
        }
    }
    location = /raw {
        content_by_lua_block {
            ngx.req.read_body()
            local rs = assert(ngx.req.socket(true))
            local ok = rs:setoption("rcvbuf", 65536)
            local n = rs:getoption("rcvbuf")
            rs:send("HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\n")
            rs:send(ok and n >= 65536 and "raw: true true\n" or "raw: false    \n")
        }
    }
--- request eval
["POST /body\nhello", "POST /raw\nhello"]
--- response_body eval
["set: true\nget: 1\nbad: nilunsupported option nodelay\nhello\n", "raw: true true\n"]
--- no_error_log
[error]



=== TEST 7: setoption("ip-transparent") is accepted, without effect, even before a connect, as upstream's http module
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(sock:setoption("ip-transparent", true))
            ngx.say(sock:setoption("ip-transparent"))
            ngx.say(pcall(sock.getoption, sock, "ip-transparent"))
        }
    }
--- request
GET /t
--- response_body
true
nilmissing the "value" argument
falsesocket is never created nor connected
--- no_error_log
[error]
