# ngx.socket.udp.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: udp: send a datagram and receive the reply
--- config
    location = /t {
        content_by_lua_block {
            local udp = ngx.socket.udp()
            ngx.say("peer: ", udp:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say("send: ", udp:send("ping"))
            ngx.say("receive: ", udp:receive())
            ngx.say("close: ", udp:close())
        }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_query: ping
--- udp_reply: pong
--- request
GET /t
--- response_body
peer: 1
send: 1
receive: pong
close: 1
--- no_error_log
[error]



=== TEST 2: udp: receive times out
--- config
    location = /t {
        content_by_lua_block {
            local udp = ngx.socket.udp()
            udp:settimeout(100)
            assert(udp:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(udp:send("ping"))
            ngx.say(udp:receive())
        }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_query: ping
--- request
GET /t
--- response_body
niltimeout
--- error_log
lua udp socket read timed out



=== TEST 3: udp: operations on an unconnected socket
--- config
    location = /t {
        content_by_lua_block {
            local udp = ngx.socket.udp()
            ngx.say(udp:send("x"))
            ngx.say(udp:receive())
            ngx.say(udp:close())
        }
    }
--- request
GET /t
--- response_body
nilclosed
nilclosed
nilclosed



=== TEST 4: udp: bind sets the local address datagrams come from
--- config
    location = /t {
        content_by_lua_block {
            local udp = ngx.socket.udp()
            ngx.say("bind: ", udp:bind("127.0.0.2"))
            assert(udp:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(udp:send("who am i"))
            ngx.say(udp:receive())
            local plain = ngx.socket.udp()
            assert(plain:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(plain:send("who am i"))
            ngx.say(plain:receive())
        }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_reply eval
sub {
    my ($data, $peer) = @_;
    require Socket;
    my ($port, $addr) = Socket::unpack_sockaddr_in($peer);
    return "from " . Socket::inet_ntoa($addr);
}
--- request
GET /t
--- response_body
bind: true
from 127.0.0.2
from 127.0.0.1
--- no_error_log
[error]



=== TEST 5: udp: bind takes IP addresses only
--- config
    location = /t {
        content_by_lua_block {
            local udp = ngx.socket.udp()
            ngx.say(udp:bind("localhost"))
            ngx.say(udp:bind("unix:/tmp/x.sock"))
            ngx.say(pcall(udp.bind, udp, 1))
        }
    }
--- request
GET /t
--- response_body
nilbad address
nilbad address
falsebad argument #2 to '?' (string expected, got number)



=== TEST 6: udp: receive reads at most 65536 bytes of a datagram (upstream since v0.10.23), or the size asked for
--- config
    location = /t {
        content_by_lua_block {
            local udp = ngx.socket.udp()
            assert(udp:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(udp:send("big"))
            ngx.say(#udp:receive())
            assert(udp:send("big"))
            ngx.say(#udp:receive(100000))
            assert(udp:send("big"))
            ngx.say(#udp:receive(10))
        }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_reply eval
"x" x 10000
--- request
GET /t
--- response_body
10000
10000
10
--- no_error_log
[error]



=== TEST 7: udp: upstream's debug traces of a receive and of a second setpeername
--- config
    location = /t {
        content_by_lua_block {
            local udp = ngx.socket.udp()
            udp:settimeout(1234)
            assert(udp:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(udp:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(udp:send("q"))
            ngx.say(udp:receive(1400))
        }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_reply: a
--- log_level: debug
--- request
GET /t
--- response_body
a
--- grep_error_log eval: qr/lua (?:udp socket (?:reconnect without shutting down|read timeout: \d+|receive buffer size: \d+)|reuse socket upstream ctx)/
--- grep_error_log_out
lua udp socket reconnect without shutting down
lua reuse socket upstream ctx
lua udp socket read timeout: 1234
lua udp socket receive buffer size: 1400
--- no_error_log
[error]



=== TEST 8: udp: a unix datagram socket gets an address of its own, so its peer's reply arrives
--- config
    location = /t {
        content_by_lua_block {
            local udp = ngx.socket.udp()
            udp:settimeout(2000)
            ngx.say("peer: ", udp:setpeername("unix:$TEST_NGINX_HTML_DIR/dgram.sock"))
            ngx.say("send: ", udp:send("ping"))
            ngx.say("receive: ", udp:receive())
        }
    }
--- udp_listen: $TEST_NGINX_HTML_DIR/dgram.sock
--- udp_query: ping
--- udp_reply: pong
--- log_level: debug
--- request
GET /t
--- response_body
peer: 1
send: 1
receive: pong
--- error_log
datagram unix domain socket autobind
--- no_error_log
[error]
