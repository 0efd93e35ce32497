# ngx.socket.tcp against test TCP servers and a real Redis.
use Test::Nginx::Socket::Lua;

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: tcp: connect, send, receive a line
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            local ok, err = sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
            ngx.say("connect: ", ok, " ", err)
            ngx.say("sent: ", sock:send({ "hello", " ", "world\r\n" }))
            local line, err = sock:receive()
            ngx.say("line: ", line, " ", err)
            ngx.say("close: ", sock:close())
            ngx.say("close again: ", sock:close())
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"hello world\r\n"
--- tcp_reply eval
"reply line\r\n"

--- request
GET /t
--- response_body
connect: 1 nil
sent: 13
line: reply line nil
close: 1
close again: nilclosed
--- no_error_log
[error]



=== TEST 2: tcp: connection refused, logged as nginx's connect() failure with upstream's peer context; send and receive on the closed socket are logged
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            local ok, err = sock:connect("127.0.0.1", 1)
            ngx.say(ok, " ", err)
            ngx.say(sock:send("x"))
            ngx.say(sock:receive())
        }
    }
--- request
GET /t
--- response_body
nil connection refused
nilclosed
nilclosed
--- error_log eval
[
qr/\[error\] .*connect\(\) failed \(111: Connection refused\), upstream: 127\.0\.0\.1:1\(127\.0\.0\.1\), client: 127\.0\.0\.1, server: /,
qr/\[error\] .*attempt to send data on a closed socket: u:[0-9A-F]{16}, c:0{16}, ft:\d+ eof:\d, client: /,
qr/\[error\] .*attempt to receive data on a closed socket: u:[0-9A-F]{16}, c:0{16}, ft:\d+ eof:\d, client: /,
]



=== TEST 3: tcp: read timeout keeps the socket, partial data is returned
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeout(100)
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\r\n"))
            local line, err, partial = sock:receive()
            ngx.say(line, " ", err, " [", partial, "]")
            local data, err2, partial2 = sock:receive(100)
            ngx.say(data, " ", err2, " [", partial2, "]")
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 4
--- tcp_reply: no newline
--- tcp_no_close
--- request
GET /t
--- response_body
nil timeout [no newline]
nil timeout []
--- error_log
lua tcp socket read timed out



=== TEST 4: tcp: receive sizes and *a until the peer closes; *a again gives "" (the socket stays open)
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("go\r\n"))
            ngx.say(sock:receive(3))
            ngx.say(sock:receive("*l"))
            ngx.say(sock:receive("*a"))
            ngx.say(sock:receive("*a"))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 4
--- tcp_reply eval
"abcdef\r\nrest of\nthe data"
--- request
GET /t
--- response_body eval
"abc\ndef\nrest of\nthe data\n\n"



=== TEST 5: tcp: a fixed size read cut short by close returns the partial data
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("go\r\n"))
            local data, err, partial = sock:receive(100)
            ngx.say(data, " ", err, " ", partial)
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 4
--- tcp_reply: short
--- request
GET /t
--- response_body
nil closed short



=== TEST 6: tcp: host names need a resolver
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(sock:connect("no-such-host.example", 80))
        }
    }
--- request
GET /t
--- response_body
nilno resolver defined to resolve "no-such-host.example"



=== TEST 7: tcp: Redis round trips through a keepalive pool
--- config
    location = /t {
        content_by_lua_block {
            local function cmd(...)
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
                local reused = sock:getreusedtimes()
                local args = { ... }
                local req = { "*", #args, "\r\n" }
                for _, a in ipairs(args) do
                    req[#req + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
                end
                assert(sock:send(req))
                local line = assert(sock:receive())
                local res = line
                if line:sub(1, 1) == "$" then
                    res = assert(sock:receive(tonumber(line:sub(2)) + 2)):sub(1, -3)
                end
                assert(sock:setkeepalive(10000, 10))
                return res, reused
            end
            local key = "ngx_lua_rs_test_" .. ngx.worker.pid()
            ngx.say(cmd("SET", key, "some value"))
            ngx.say(cmd("GET", key))
            ngx.say(cmd("DEL", key))
        }
    }
--- request
GET /t
--- response_body
+OK0
some value1
:12
--- no_error_log
[error]



=== TEST 8: tcp: sockets work in timers and light threads; killing a blocked reader
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local sock = ngx.socket.tcp()
                local ok, err = sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT)
                sock:send("PING\r\n")
                ngx.log(ngx.WARN, "timer socket: ", ok, " ", sock:receive())
                sock:close()
            end)
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local t = ngx.thread.spawn(function()
                return sock:receive()
            end)
            ngx.sleep(0.05)
            ngx.say("kill: ", ngx.thread.kill(t))
            ngx.say("done")
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- request
GET /t
--- response_body
kill: 1
done
--- wait: 0.1
--- error_log
timer socket: 1 +PONG



=== TEST 9: tcp: API disabled in header filters and outside requests
--- config
    location = /t {
        return 200 "x\n";
        header_filter_by_lua_block {
            local ok, err = pcall(ngx.socket.tcp)
            ngx.log(ngx.WARN, "tcp in header filter: ", err)
        }
    }
--- request
GET /t
--- response_body
x
--- error_log
tcp in header filter: API disabled in the context of header_filter_by_lua*



=== TEST 10: tcp: bad arguments
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(select(2, pcall(sock.connect, sock, 1)))
            ngx.say(sock:connect("127.0.0.1", 70000))
            ngx.say(select(2, pcall(sock.receive, sock, "*x")))
            ngx.say(sock:receive())
            -- Upstream's C methods: named, self not counted, when called
            -- as methods; the caller's position.
            local function direct(f)
                local ok, err = pcall(f)
                ngx.say((err:gsub("^content_by_lua%b():(%d+): ", "line %1: ")))
            end
            direct(function() local r = sock:connect(1) return r end)
            direct(function() local r = sock:connect("127.0.0.1", 1, 2) return r end)
            direct(function() local r = sock:connect("127.0.0.1", { pool = true }) return r end)
            direct(function() local r = sock:receive("*x") return r end)
            direct(function() local r = sock:receive("line") return r end)
            direct(function() local r = sock:receive(-1) return r end)
            direct(function() local r = sock:receive({}) return r end)
            direct(function() local r = sock:receiveuntil(nil) return r end)
            direct(function() local r = sock:receiveuntil("x", 1) return r end)
            direct(function() local r = sock:send(print) return r end)
            direct(function() local r = sock:setkeepalive("a") return r end)
            direct(function() local r = sock:setkeepalive(1, "b") return r end)
            direct(function() local r = sock:bind(1) return r end)
        }
    }
--- request
GET /t
--- response_body
bad argument #2 to '?' (string expected, got number)
nilbad port number: 70000
bad argument #2 to '?' (bad pattern argument)
nilclosed
line 13: bad argument #1 to 'connect' (string expected, got number)
line 14: bad argument #3 to 'connect' (table expected, got number)
line 15: bad argument #2 to 'connect' (bad "pool" option type: boolean)
line 16: bad argument #1 to 'receive' (bad pattern argument)
line 17: bad argument #1 to 'receive' (bad pattern argument: line)
line 18: bad argument #1 to 'receive' (bad number argument)
line 19: bad argument #1 to 'receive' (bad argument)
line 20: bad argument #1 to 'receiveuntil' (string expected, got nil)
line 21: bad argument #2 to 'receiveuntil' (table expected, got number)
line 22: bad argument #1 to 'send' (string, number, boolean, nil, or array table expected, got function)
line 23: bad argument #1 to 'setkeepalive' (number expected, got string)
line 24: bad argument #2 to 'setkeepalive' (number expected, got string)
line 25: bad argument #1 to 'bind' (string expected, got number)



=== TEST 11: tcp: receiveuntil returns the data before the pattern
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("go\r\n"))
            local reader = sock:receiveuntil("\r\n--abcedhb")
            ngx.say("[", reader(), "]")
            local incl = sock:receiveuntil("END", { inclusive = true })
            ngx.say("[", incl(), "]")
            ngx.say("[", sock:receive("*a"), "]")
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 4
--- tcp_reply eval
"hello, world! -agentzh\r\n--abcedhb blah END tail"
--- request
GET /t
--- response_body
[hello, world! -agentzh]
[ blah END]
[ tail]



=== TEST 12: tcp: receiveuntil with a size iterates in chunks, then nil
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("go\r\n"))
            local reader = sock:receiveuntil("\r\n--abcedhb")
            while true do
                local data, err, partial = reader(4)
                if not data then
                    ngx.say(err and ("failed: " .. err) or "read done")
                    break
                end
                ngx.say("read chunk: [", data, "]")
            end
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 4
--- tcp_reply eval
"hello, world! -agentzh\r\n--abcedhb blah blah"
--- request
GET /t
--- response_body
read chunk: [hell]
read chunk: [o, w]
read chunk: [orld]
read chunk: [! -a]
read chunk: [gent]
read chunk: [zh]
read done



=== TEST 13: tcp: receiveuntil when the peer closes before the pattern
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("go\r\n"))
            local reader = sock:receiveuntil("--never--")
            ngx.say(reader())
            ngx.say(sock:receiveuntil(""))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 4
--- tcp_reply: some data
--- request
GET /t
--- response_body
nilclosedsome data
nilpattern is empty



=== TEST 14: tcp: setoption
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(pcall(sock.setoption, sock, "keepalive", true))
            assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
            ngx.say(sock:setoption("keepalive", true))
            ngx.say(sock:setoption("tcp-nodelay", true))
            ngx.say(sock:setoption("sndbuf", 8192))
            ngx.say(sock:setoption("rcvbuf", 8192))
            ngx.say(sock:setoption("reuseaddr", 1))
            ngx.say(sock:setoption("nope", 1))
            sock:close()
        }
    }
--- request
GET /t
--- response_body
falsesocket is never created nor connected
true
true
true
true
true
nilunsupported option nope



=== TEST 15: tcp: host names go through nginx's resolver (a silent DNS server times out)
--- config
    resolver 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ipv6=off;
    resolver_timeout 200ms;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(sock:connect("some-host.test", 80))
        }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_query eval
qr/some-host/
--- request
GET /t
--- response_body
nilsome-host.test could not be resolved (110: Operation timed out)



=== TEST 16: tcp: a host name resolved by a DNS server, then connected
--- config
    resolver 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ipv6=off;
    resolver_timeout 1s;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            local ok, err = sock:connect("redis.test", $TEST_NGINX_REDIS_PORT)
            ngx.say("connect: ", ok, " ", err)
            sock:send("PING\r\n")
            ngx.say(sock:receive())
            sock:close()
        }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_reply eval
sub {
    my $req = shift;
    my $id = substr($req, 0, 2);
    my $q = substr($req, 12);
    my $qlen = index($q, "\0") + 1 + 4;
    my $question = substr($q, 0, $qlen);
    my $hdr = $id . pack("nnnnn", 0x8180, 1, 1, 0, 0);
    my $answer = pack("n", 0xc00c) . pack("nnNn", 1, 1, 30, 4) . pack("C4", 127, 0, 0, 1);
    return $hdr . $question . $answer;
}
--- request
GET /t
--- response_body
connect: 1 nil
+PONG



=== TEST 17: tcp: bind a local address, pool options
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(sock:bind("127.0.0.1"))
            ngx.say(sock:bind("not-an-ip"))
            assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT, { pool = "mypool", pool_size = 2 }))
            sock:send("PING\r\n")
            ngx.say(sock:receive())
            ngx.say(sock:setkeepalive())
            local s2 = ngx.socket.tcp()
            assert(s2:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT, { pool = "mypool" }))
            ngx.say("reused: ", s2:getreusedtimes())
            s2:close()
            ngx.say(select(2, pcall(sock.connect, sock, "127.0.0.1", 1, { pool_size = 0 })))
        }
    }
--- request
GET /t
--- response_body
true
nilbad address
+PONG
1
reused: 1
bad argument #4 to '?' (bad "pool_size" option value: 0)



=== TEST 18: tcp: settimeout(0) falls back to lua_socket_read_timeout; negative values are refused
--- config
    lua_socket_read_timeout 100ms;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeout(5000)
            sock:settimeout(0)
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.update_time()
            local t0 = ngx.now()
            local data, err = sock:receive()
            ngx.update_time()
            local dt = ngx.now() - t0
            ngx.say(data, " ", err, " ", dt >= 0.09 and dt < 1)
            ngx.say(pcall(sock.settimeout, sock, -1))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- request
GET /t
--- response_body_like
^nil timeout true
false.*bad timeout value



=== TEST 19: tcp/udp: connect refuses empty and malformed hosts with nginx's URL parser reason
--- config
    location = /t {
        resolver 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ipv6=off;
        resolver_timeout 200ms;
        content_by_lua_block {
            local hosts = { "", "unix:", "UNIX:", "unix:" .. string.rep("p", 108), ":80",
                            "[]", "[::1", "[zz]", "::1", "127.0.0.1:abc", "127.0.0.1:0",
                            "a/b", "a?b", "[::1]:x" }
            for _, h in ipairs(hosts) do
                local sock = ngx.socket.tcp()
                local ok, err = sock:connect(h, 80)
                local udp = ngx.socket.udp()
                local uok, uerr = udp:setpeername(h, 53)
                ngx.say(ok, " ", err == uerr, " ", (err:gsub("pppp+", "p...")))
            end
            ngx.say(ngx.socket.connect("", 80))
            -- A port inside the host wins, as in nginx's URLs.
            local sock = ngx.socket.tcp()
            ngx.say(sock:connect("127.0.0.1:$TEST_NGINX_RAND_PORT_1", 1))
            -- A label longer than DNS allows is not sent to the resolver.
            local name = string.rep("n", 300)
            local ok, err = sock:connect(name, 80)
            ngx.say(ok, " ", (err:gsub("nnnn+", "n...")))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- request
GET /t
--- response_body
nil true failed to parse host name "": no host
nil true failed to parse host name "unix:": no path in the unix domain socket
nil true failed to parse host name "UNIX:": no path in the unix domain socket
nil true failed to parse host name "unix:p...": too long path in the unix domain socket
nil true failed to parse host name ":80": no host
nil true failed to parse host name "[]": no host
nil true failed to parse host name "[::1": invalid host
nil true failed to parse host name "[zz]": invalid IPv6 address
nil true failed to parse host name "::1": invalid port
nil true failed to parse host name "127.0.0.1:abc": invalid port
nil true failed to parse host name "127.0.0.1:0": invalid port
nil true failed to parse host name "a/b": invalid host
nil true failed to parse host name "a?b": invalid host
nil true failed to parse host name "[::1]:x": invalid port
nilfailed to parse host name "": no host
1
nil n... could not be resolved (3: Host not found)
--- no_error_log
[error]



=== TEST 20: tcp: receive() and receiveuntil() over MiBs without a delimiter search each byte once; the worker keeps serving
--- mockeagain_max: 65536
--- http_config
    lua_shared_dict results 1m;
--- config
    location = /big {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local d = ngx.shared.results
                for _, how in ipairs({ "line", "until" }) do
                    local sock = ngx.socket.tcp()
                    sock:settimeout(20000)
                    assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
                    assert(sock:send("go\n"))
                    local data, err, partial
                    if how == "line" then
                        data, err, partial = sock:receive()
                    else
                        data, err, partial = sock:receiveuntil("xy-q")()
                    end
                    d:set(how, table.concat({ tostring(data), err, #partial,
                                              partial:sub(1, 3), partial:sub(-3) }, " "))
                end
                d:set("done", true)
            end)
            ngx.say("started")
        }
    }
    location = /ping {
        content_by_lua_block { ngx.say("pong") }
    }
    location = /result {
        content_by_lua_block {
            local d = ngx.shared.results
            for _ = 1, 250 do
                if d:get("done") then
                    break
                end
                ngx.sleep(0.01)
            end
            ngx.say(d:get("line"))
            ngx.say(d:get("until"))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 3
--- tcp_reply eval
"abc" . ("xy-" x (4 * 1024 * 1024 / 3)) . "xyz"
--- request eval
["GET /big", "GET /ping", "GET /result"]
--- response_body eval
["started\n", "pong\n", "nil closed 4194309 abc xyz\nnil closed 4194309 abc xyz\n"]
--- timeout: 3
--- no_error_log
[error]



=== TEST 21: tcp: NaN, infinite and out-of-range numbers are refused with upstream's errors
--- config
    lua_socket_log_errors off;
    location = /t {
        content_by_lua_block {
            local cases = { nan = 0/0, inf = math.huge, ["-inf"] = -math.huge, ["1e300"] = 1e300 }
            local function try(f, ...)
                local ok, err = pcall(f, ...)
                return ok and "ok" or err
            end
            for _, k in ipairs({ "nan", "inf", "-inf", "1e300" }) do
                local v = cases[k]
                local s = ngx.socket.tcp()
                ngx.say(k, " settimeout: ", try(s.settimeout, s, v))
                ngx.say(k, " settimeouts: ", try(s.settimeouts, s, 1, v, 1))
                ngx.say(k, " pool_size: ", try(s.connect, s, "127.0.0.1", 1, { pool_size = v }))
                ngx.say(k, " backlog: ", try(s.connect, s, "127.0.0.1", 1, { pool_size = 1, backlog = v }))
                -- As upstream converts it: port 0.
                ngx.say(k, " port: ", select(2, s:connect("127.0.0.1", v)))
                assert(s:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
                ngx.say(k, " receive: ", try(s.receive, s, v))
                ngx.say(k, " receiveany: ", try(s.receiveany, s, v))
                s:close()
            end
            -- Called as a method, the error names it and does not count
            -- self, as luaL_argerror does for upstream's C method.
            local s = ngx.socket.tcp()
            local ok, err = pcall(function() local d = s:receiveany(0) return d end)
            ngx.say((err:gsub("^content_by_lua%b():%d+: ", "")))
            ok, err = pcall(function() local d = s:receiveany() return d end)
            ngx.say((err:gsub("^content_by_lua%b():%d+: ", "")))
        }
    }
--- request
GET /t
--- response_body
nan settimeout: bad timeout value
nan settimeouts: bad timeout value
nan pool_size: bad argument #4 to '?' (bad "pool_size" option value: 0)
nan backlog: bad argument #4 to '?' (bad "backlog" option value: 0)
nan port: connection refused
nan receive: bad argument #2 to '?' (bad number argument)
nan receiveany: bad argument #2 to '?' (bad max argument)
inf settimeout: bad timeout value
inf settimeouts: bad timeout value
inf pool_size: bad argument #4 to '?' (bad "pool_size" option value: 0)
inf backlog: bad argument #4 to '?' (bad "backlog" option value: 0)
inf port: connection refused
inf receive: bad argument #2 to '?' (bad number argument)
inf receiveany: bad argument #2 to '?' (bad max argument)
-inf settimeout: bad timeout value
-inf settimeouts: bad timeout value
-inf pool_size: bad argument #4 to '?' (bad "pool_size" option value: 0)
-inf backlog: bad argument #4 to '?' (bad "backlog" option value: 0)
-inf port: connection refused
-inf receive: bad argument #2 to '?' (bad number argument)
-inf receiveany: bad argument #2 to '?' (bad max argument)
1e300 settimeout: bad timeout value
1e300 settimeouts: bad timeout value
1e300 pool_size: bad argument #4 to '?' (bad "pool_size" option value: 0)
1e300 backlog: bad argument #4 to '?' (bad "backlog" option value: 0)
1e300 port: connection refused
1e300 receive: bad argument #2 to '?' (bad number argument)
1e300 receiveany: bad argument #2 to '?' (bad max argument)
bad argument #1 to 'receiveany' (bad max argument)
bad argument #1 to 'receiveany' (bad max argument)
--- no_error_log
[error]



=== TEST 22: tcp: a send larger than the socket buffers waits for the peer and arrives whole and in order
--- mockeagain_max: 65536
--- config
    location = /sink {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            sock:settimeout(5000)
            local n = tonumber(ngx.var.http_content_length)
            local body = assert(sock:receive(n))
            ngx.say(#body, " ", ngx.md5(body))
        }
    }
    location = /t {
        content_by_lua_block {
            -- 16 MiB of numbered 8 KiB blocks: more than loopback's socket
            -- buffers take at once.
            local blocks = {}
            for i = 1, 2048 do
                blocks[i] = string.format("%07d", i) .. string.rep("x", 8185)
            end
            local payload = table.concat(blocks)
            local c = ngx.socket.tcp()
            c:settimeout(5000)
            assert(c:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
            local head = "POST /sink HTTP/1.0\r\nContent-Length: " .. #payload .. "\r\n\r\n"
            ngx.say("sent: ", c:send({ head, payload }) == #head + #payload)
            repeat
                local line = assert(c:receive())
            until line == ""
            ngx.say("peer got: ", c:receive() == #payload .. " " .. ngx.md5(payload))
            c:close()
        }
    }
--- request
GET /t
--- response_body
sent: true
peer got: true
--- timeout: 10
--- no_error_log
[error]



=== TEST 23: tcp: close() after the peer closed gives 1; a failed receive refuses further receives, not sends
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            local data, err, partial = sock:receive(100)
            ngx.say("receive: ", err, " ", partial)
            ngx.say("again: ", select(2, sock:receive(1)))
            ngx.say("send: ", sock:send("x"))
            ngx.say("close: ", sock:close())
            ngx.say("close again: ", select(2, sock:close()))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: bye
--- request
GET /t
--- response_body
receive: closed bye
again: closed
send: 1
close: 1
close again: closed
--- error_log eval
qr/\[error\] .*attempt to receive data on a closed socket: u:[0-9A-F]{16}, c:[0-9A-F]{16}, ft:4 eof:1, client: /
--- no_error_log
attempt to send data on a closed socket



=== TEST 24: tcp: close() after receive("*a") read to the end gives 1
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            ngx.say("all: ", sock:receive("*a"))
            ngx.say("close: ", sock:close())
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: bye
--- request
GET /t
--- response_body
all: bye
close: 1
--- no_error_log
[error]



=== TEST 25: tcp: receiveuntil with a size gives "" when the pattern sits at the cursor, then nil
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            local it = sock:receiveuntil("--ab")
            for i = 1, 6 do
                local data, err, partial = it(4)
                ngx.say(i, ": ", data == nil and "nil" or "[" .. data .. "]", " ", err, " ", partial)
            end
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: --abhello--ab
--- request
GET /t
--- response_body
1: [] nil nil
2: nil nil nil
3: [hell] nil nil
4: [o] nil nil
5: nil nil nil
6: nil closed 
--- no_error_log
[error]



=== TEST 26: tcp: receiveuntil with a size hands out a failed partial match in one piece, past the size
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            -- "xy1xy" matches, then "1" leaves "xy1" as a shorter partial
            -- match: the call asked for 2 bytes and gets "xy1".
            local it = sock:receiveuntil("xy1xy2")
            ngx.say("chunk: ", it(2))
            -- The held "xy1" comes back to the next plain read.
            ngx.say("three: ", sock:receive(3))
            ngx.say("rest: ", sock:receive("*a"))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: xy1xy1!
--- request
GET /t
--- response_body
chunk: xy1
three: xy1
rest: !
--- no_error_log
[error]



=== TEST 27: tcp: a read between receiveuntil calls gets the bytes the iterator held as a partial match
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            local it = sock:receiveuntil("==end")
            local out = {}
            for i = 1, 6 do
                local data, err, partial = it(2)
                if not data then
                    out[#out + 1] = "it: " .. tostring(err)
                    break
                end
                out[#out + 1] = "it: [" .. data .. "]"
                local b, err = sock:receive(1)
                if not b then
                    out[#out + 1] = "byte: " .. err
                    break
                end
                out[#out + 1] = "byte: [" .. b .. "]"
            end
            ngx.say(table.concat(out, "\n"))
            ngx.say("rest: ", sock:receive("*a"))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: ====end====end=.
--- request
GET /t
--- response_body
it: [==]
byte: [=]
it: [=e]
byte: [n]
it: [d=]
byte: [=]
it: []
byte: [=]
it: nil
rest: .
--- no_error_log
[error]



=== TEST 28: tcp: a second receiveuntil iterator starts from the bytes the first held as a partial match
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            local first = sock:receiveuntil("ppq")
            -- "p" goes out, the next "pp" is held as a partial match.
            ngx.say("first: ", first(1))
            ngx.say("first: ", first(1))
            local second = sock:receiveuntil("p!")
            ngx.say("second: ", second())
            ngx.say("rest: ", sock:receive("*a"))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: xppp!z
--- request
GET /t
--- response_body
first: x
first: p
second: p
rest: z
--- no_error_log
[error]



=== TEST 29: tcp: receiveuntil refuses an inclusive option that is not a boolean, and an options argument that is not a table
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(pcall(sock.receiveuntil, sock, "--", { inclusive = "true" }))
            ngx.say(pcall(sock.receiveuntil, sock, "--", "yes"))
            ngx.say(type(sock:receiveuntil("--", { inclusive = false })))
        }
    }
--- request
GET /t
--- response_body
falsebad "inclusive" option value type: string
falsebad argument #3 to '?' (table expected, got string)
function
--- no_error_log
[error]



=== TEST 30: tcp: receiveuntil's iterator returns the data alone, and nil, err, partial on failure
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            local it = sock:receiveuntil("|")
            ngx.say("found: ", select("#", it()))
            ngx.say("sized: ", select("#", it(2)))
            ngx.say("closed: ", select("#", it()))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: one|twothree
--- request
GET /t
--- response_body
found: 1
sized: 1
closed: 3
--- no_error_log
[error]



=== TEST 31: tcp: send walks tables as upstream: nested arrays, and upstream's errors for holes, booleans, ngx.null and non-array keys
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say(sock:send({ "a", { "b", { 1, 2.5 } }, "\n" }))
            for _, v in ipairs({
                { "x", nil, "y" },
                { "x", true },
                { "x", ngx.null },
                { "x", k = "v" },
                { { 0.5 } },
            }) do
                ngx.say(pcall(sock.send, sock, v))
            end
            ngx.say(sock:send(nil), " ", sock:send(false))
            ngx.say(sock:receive("*a"))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"ab12.5\n0.5nilfalse"
--- tcp_reply: ok
--- request
GET /t
--- response_body
7
falsebad argument #1 to 'send' (bad data type nil found)
falsebad argument #1 to 'send' (bad data type boolean found)
falsebad argument #1 to 'send' (bad data type userdata found)
falsebad argument #1 to 'send' (non-array table found)
true3
3 5
ok
--- no_error_log
[error]



=== TEST 32: tcp: connecting a socket again writes upstream's debug traces
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say("ok")
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- log_level: debug
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/lua (?:tcp socket reconnect without shutting down|reuse socket upstream ctx)/
--- grep_error_log_out
lua tcp socket reconnect without shutting down
lua reuse socket upstream ctx
--- no_error_log
[error]



=== TEST 33: tcp: upstream's debug traces of connect, bind, send and receives
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeouts(1234, 2345, 3456)
            assert(sock:bind("127.0.0.1"))
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            ngx.say(sock:receiveany(7))
            ngx.say(sock:receive())
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 3
--- tcp_reply eval
"abcdefgh\n"
--- log_level: debug
--- request
GET /t
--- response_body
abcdefg
h
--- grep_error_log eval
qr/lua (?:tcp socket (?:connect timeout|send timeout|read timeout|bind ip|calling receiveany\(\) method to read at most|read any)|socket tcp_nodelay)[^,\n]*/
--- grep_error_log_out
lua tcp socket bind ip: 127.0.0.1
lua tcp socket connect timeout: 1234
lua tcp socket send timeout: 2345
lua socket tcp_nodelay
lua tcp socket calling receiveany() method to read at most 7 bytes
lua tcp socket read timeout: 3456
lua tcp socket read any
lua tcp socket read timeout: 3456
--- no_error_log
[error]



=== TEST 34: tcp: the first send turns TCP_NODELAY on where tcp_nodelay is on (nginx's default), as upstream
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say("before: ", sock:getoption("tcp-nodelay"))
            assert(sock:send("hi\n"))
            ngx.say("after: ", sock:getoption("tcp-nodelay"))
        }
    }
    location = /off {
        tcp_nodelay off;
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            ngx.say("off: ", sock:getoption("tcp-nodelay"))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply: ok
--- request eval
["GET /t", "GET /off"]
--- response_body eval
["before: 0\nafter: 1\n", "off: 0\n"]
--- no_error_log
[error]



=== TEST 35: tcp: a receive that fails returns its partial data ("" too); one refused on a closed socket returns none, as upstream
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            ngx.say("read: ", sock:receive())
            local n = select("#", sock:receive())
            local data, err, partial = sock:receive()
            ngx.say("failed: ", n, " refused: ", select("#", sock:receive()), " ", err, " ", partial)
            local it = sock:receiveuntil("x")
            ngx.say("iterator refused: ", select("#", it()))
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"line\n"
--- request
GET /t
--- response_body
read: line
failed: 3 refused: 2 closed nil
iterator refused: 2
--- error_log
attempt to receive data on a closed socket



=== TEST 36: tcp: close while another light thread waits in a receive gives upstream's "socket busy reading" and leaves the receive alone
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeout(1000)
            local ok, err = sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
            ngx.say("connect: ", ok, " ", err)
            ngx.say("sent: ", sock:send("ping\r\n"))
            local reader = ngx.thread.spawn(function()
                return sock:receive()
            end)
            ngx.say("close: ", sock:close())
            ngx.say("received: ", select(2, ngx.thread.wait(reader)))
            ngx.say("close after: ", sock:close())
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"ping\r\n"
--- tcp_reply_delay: 100ms
--- tcp_reply eval
"pong\r\n"
--- request
GET /t
--- response_body
connect: 1 nil
sent: 6
close: nilsocket busy reading
received: pong
close after: 1
--- no_error_log
[error]



=== TEST 37: tcp: receiveany after the peer shut its writing side gives "closed", and the socket still sends
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeout(1000)
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local data, err = sock:receiveany(1024)
            ngx.say("receiveany: ", data, " ", err)
            ngx.say("send: ", sock:send("sent after the read side closed"))
            ngx.say("close: ", sock:close())
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_shutdown: 1
--- tcp_query eval
"sent after the read side closed"
--- request
GET /t
--- response_body
receiveany: nil closed
send: 31
close: 1
--- no_error_log
[error]



=== TEST 39: tcp: ngx.socket.stream is ngx.socket.tcp; ngx.socket.connect returns the connected socket or nil and the error
--- config
    location = /t {
        content_by_lua_block {
            local s = ngx.socket.stream()
            ngx.say(getmetatable(s) == getmetatable(ngx.socket.tcp()))
            ngx.say(ngx.socket.stream == ngx.socket.tcp)
            assert(s:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
            s:send("PING\r\n")
            ngx.say(s:receive())
            s:close()
            local c, err = ngx.socket.connect("127.0.0.1", $TEST_NGINX_REDIS_PORT)
            c:send("PING\r\n")
            ngx.say(c:receive(), " ", err)
            c:close()
            ngx.say(ngx.socket.connect("127.0.0.1", 1))
            ngx.say(ngx.socket.connect("unix:/nonexistent/sock"))
        }
    }
--- request
GET /t
--- response_body
true
true
+PONG
+PONG nil
nilconnection refused
nilno such file or directory
--- error_log
connect() to unix:/nonexistent/sock failed (2: No such file or directory)



=== TEST 40: tcp: a timeout that settimeouts gets that is no number (nil too) is the location's default, as upstream's lua_tonumber makes it 0
--- config
    lua_socket_connect_timeout 1111ms;
    lua_socket_send_timeout 2222ms;
    lua_socket_read_timeout 3333ms;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeouts(50, 60, 70)
            -- nil and a non-number string: the location's defaults.
            sock:settimeouts(1234, nil, "x")
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("hi\n"))
            ngx.say(sock:receive())
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query_len: 3
--- tcp_reply eval
"abc\n"
--- log_level: debug
--- request
GET /t
--- response_body
abc
--- grep_error_log eval
qr/lua tcp socket (?:connect|send|read) timeout: \d+/
--- grep_error_log_out
lua tcp socket connect timeout: 1234
lua tcp socket send timeout: 2222
lua tcp socket read timeout: 3333
--- no_error_log
[error]



=== TEST 41: tcp: a method called on something that is no table raises upstream's luaL_checktype error, naming the method as called
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            local function show(ok, err)
                ngx.say((err:gsub("^content_by_lua%b():%d+: ", "")))
            end
            show(pcall(function() local r = sock.receive("l") return r end))
            show(pcall(function() local r = sock.receiveuntil(3) return r end))
            show(pcall(function() local r = sock.close(1) return r end))
            show(pcall(function() local r = sock.setkeepalive(1) return r end))
            show(pcall(function() local r = sock.getreusedtimes(1) return r end))
            show(pcall(sock.send, "x", "y"))
            -- A table that is no socket: ours names it so.
            show(pcall(sock.close, {}))
        }
    }
--- request
GET /t
--- response_body
bad argument #1 to 'receive' (table expected, got string)
bad argument #1 to 'receiveuntil' (table expected, got number)
bad argument #1 to 'close' (table expected, got number)
bad argument #1 to 'setkeepalive' (table expected, got number)
bad argument #1 to 'getreusedtimes' (table expected, got number)
bad argument #1 to '?' (table expected, got string)
bad argument #1 (cosocket object expected)
--- no_error_log
[error]
