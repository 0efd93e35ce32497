# The partial-I/O shim (t/mockeagain, TEST_NGINX_MOCKEAGAIN) always on for
# this file: it shows the shim works (a read gets one byte) and keeps the
# cosocket readers honest when every read and write is short or EAGAIN.
BEGIN {
    $ENV{TEST_NGINX_MOCKEAGAIN} = 'rw';
    $ENV{TEST_NGINX_MOCKEAGAIN_SEED} = 7;
}
use Test::Nginx::Socket::Lua;

plan tests => repeat_each() * (blocks() * 3);
run_tests();

__DATA__

=== TEST 1: cosocket: reads arrive one byte a call, and every reader reassembles them
--- config
    location = /data {
        content_by_lua_block {
            ngx.print("head-1\r\nhead-2\r\n--b--", string.rep("z", 5000), "--b--tail")
        }
    }
    location = /t {
        content_by_lua_block {
            local s = ngx.socket.tcp()
            s:settimeout(5000)
            assert(s:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
            assert(s:send("GET /data HTTP/1.0\r\nHost: x\r\n\r\n"))
            local first = assert(s:receiveany(8192))
            ngx.say("receiveany got ", #first, " byte(s)")
            -- the rest of the status line and the headers, line by line
            local status = first .. assert(s:receive("*l"))
            ngx.say(status)
            repeat
                local l = assert(s:receive("*l"))
            until l == ""
            ngx.say(assert(s:receive("*l")), " ", assert(s:receive(6)), assert(s:receive(2)) == "\r\n")
            local it = s:receiveuntil("--b--")
            ngx.say("before: [", assert(it()), "]")
            local body = assert(it())
            ngx.say("between: ", #body, " ", body == string.rep("z", 5000))
            local rest, err, partial = s:receive("*a")
            ngx.say("rest: ", rest, " ", err)
        }
    }
--- request
GET /t
--- response_body
receiveany got 1 byte(s)
HTTP/1.1 200 OK
head-1 head-2true
before: []
between: 5000 true
rest: tail nil
--- no_error_log
[error]



=== TEST 2: access_by_lua: output then ngx.exit(200) reaches a client that takes it a byte at a time (the request stalled)
--- config
    location = /t {
        access_by_lua_block {
            ngx.say(string.rep("a", 200))
            ngx.exit(200)
        }
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- response_body eval
"a" x 200 . "\n"
--- no_error_log
[error]
--- timeout: 10



=== TEST 3: precontent_by_lua: output then ngx.exit(200) reaches a client that takes it a byte at a time
--- config
    location = /t {
        precontent_by_lua_block {
            ngx.say(string.rep("p", 200))
            ngx.exit(200)
        }
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- response_body eval
"p" x 200 . "\n"
--- no_error_log
[error]
--- timeout: 10
