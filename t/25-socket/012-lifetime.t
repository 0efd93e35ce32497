# Socket objects beyond their request: a later request's use, another
# live request's use, the GC of an unclosed socket.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: tcp: a socket kept from an ended request answers "closed", then connects with the settings it had
--- config
    location = /first {
        lua_socket_log_errors off;
        content_by_lua_block {
            local s = ngx.socket.tcp()
            s:settimeouts(1000, 1000, 150)
            assert(s:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
            package.loaded.kept_sock = s
            ngx.say("left connected")
        }
    }
    location = /second {
        content_by_lua_block {
            local s = package.loaded.kept_sock
            ngx.say("send: ", s:send("x"))
            ngx.say("receive: ", s:receive())
            ngx.say("reused: ", s:getreusedtimes())
            ngx.say("close: ", s:close())
            ngx.say("connect: ", s:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
            s:send("GET /slow HTTP/1.0\r\nHost: x\r\n\r\n")
            ngx.update_time()
            local t0 = ngx.now()
            local line, err = s:receive()
            ngx.update_time()
            -- The read timeout set in /first: 150 ms, not the 60 s default;
            -- and /first's lua_socket_log_errors: no error line.
            ngx.say("receive: ", line, " ", err, " ", ngx.now() - t0 < 0.9)
            s:close()
            package.loaded.kept_sock = nil
            collectgarbage()
            collectgarbage()
            ngx.say("collected")
        }
    }
    location = /slow {
        content_by_lua_block { ngx.sleep(1) ngx.say("late") }
    }
--- request eval
["GET /first", "GET /second"]
--- response_body eval
["left connected\n",
"send: nilclosed
receive: nilclosed
reused: nilclosed
close: nilclosed
connect: 1
receive: nil timeout true
collected
"]
--- no_error_log
[error]



=== TEST 2: udp: a datagram socket kept from an ended request is still one in a later request
--- config
    location = /first {
        content_by_lua_block {
            local u = ngx.socket.udp()
            u:settimeout(2000)
            package.loaded.kept_udp = u
            ngx.say("kept")
        }
    }
    location = /second {
        content_by_lua_block {
            local u = package.loaded.kept_udp
            ngx.say("peer: ", u:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say("send: ", u:send("ping"))
            ngx.say("receive: ", u:receive())
            u:close()
        }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_reply: pong
--- request eval
["GET /first", "GET /second"]
--- response_body eval
["kept\n", "peer: 1\nsend: 1\nreceive: pong\n"]
--- no_error_log
[error]



=== TEST 3: tcp: a socket of a request that still runs is refused to another one with "bad request"
--- config
    location = /t {
        content_by_lua_block {
            local s = ngx.socket.tcp()
            assert(s:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
            package.loaded.busy_sock = s
            local res = ngx.location.capture("/other")
            ngx.print(res.body)
            package.loaded.busy_sock = nil
            ngx.say("mine: ", s:send("GET /ping HTTP/1.0\r\n\r\n"))
            s:close()
        }
    }
    location = /other {
        content_by_lua_block {
            local s = package.loaded.busy_sock
            for _, op in ipairs({ "send", "receive", "connect" }) do
                local arg = ({ send = "x", receive = "*l", connect = "127.0.0.1" })[op]
                local ok, err = pcall(s[op], s, arg, $TEST_NGINX_SERVER_PORT)
                ngx.say(op, ": ", ok, " ", err)
            end
        }
    }
    location = /ping {
        return 200 "pong\n";
    }
--- request
GET /t
--- response_body
send: false bad request
receive: false bad request
connect: false bad request
mine: 22
--- no_error_log
[error]



=== TEST 4: tcp: an unclosed socket whose object is collected in its request closes its connection
--- http_config
    lua_shared_dict seen 1m;
--- config
    location = /t {
        content_by_lua_block {
            local s = ngx.socket.tcp()
            assert(s:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
            assert(s:send("GET /hold HTTP/1.0\r\n\r\n"))
            for _ = 1, 100 do
                if ngx.shared.seen:get("holding") then
                    break
                end
                ngx.sleep(0.01)
            end
            s = nil
            collectgarbage()
            collectgarbage()
            for _ = 1, 100 do
                if ngx.shared.seen:get("aborted") then
                    break
                end
                ngx.sleep(0.01)
            end
            ngx.say("peer saw the close: ", ngx.shared.seen:get("aborted"))
        }
    }
    location = /hold {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.on_abort(function()
                ngx.shared.seen:set("aborted", true)
                ngx.exit(499)
            end)
            ngx.shared.seen:set("holding", true)
            ngx.sleep(5)
        }
    }
--- request
GET /t
--- response_body
peer saw the close: true
--- no_error_log
[error]



=== TEST 5: tcp: close and setkeepalive from another request than the socket's raise "bad request" at the caller's line, after "closed"
--- config
    location = /t {
        content_by_lua_block {
            local r1 = ngx.location.capture("/sub?open=1")
            local r2 = ngx.location.capture("/sub")
            ngx.print(r1.body, r2.body)
            -- The main request is another one too; the socket made in the
            -- first subrequest lives until the main request ends.
            local s = package.loaded.sub_sock
            local ok, err = pcall(s.close, s)
            ngx.say("main close: ", ok, " ", err)
            local closed = package.loaded.closed_sock
            ngx.say("closed one: ", closed:close())
            package.loaded.sub_sock = nil
            package.loaded.closed_sock = nil
        }
    }
    location = /sub {
        content_by_lua_block {
            if ngx.var.arg_open then
                local s = ngx.socket.tcp()
                assert(s:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
                package.loaded.sub_sock = s
                local c = ngx.socket.tcp()
                assert(c:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
                assert(c:close())
                package.loaded.closed_sock = c
                ngx.say("opened")
                return
            end
            local s = package.loaded.sub_sock
            local ok, err = pcall(function() local r = s:close() return r end)
            ngx.say("close: ", ok, " ", (err:gsub("^content_by_lua%b():(%d+): ", "line %1: ")))
            ok, err = pcall(function() local r = s:setkeepalive() return r end)
            ngx.say("setkeepalive: ", ok, " ", (err:gsub("^content_by_lua%b():(%d+): ", "line %1: ")))
            local c = package.loaded.closed_sock
            ngx.say("closed one: ", c:close())
            ngx.say("closed one pooled: ", c:setkeepalive())
        }
    }
--- request
GET /t
--- response_body
opened
close: false line 14: bad request
setkeepalive: false line 16: bad request
closed one: nilclosed
closed one pooled: nilclosed
main close: false bad request
closed one: nilclosed
--- no_error_log
[error]
