# ngx.req.socket(): the request body reader, and ngx.req.socket(true): the
# raw client connection.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: req.socket: sized reads stop at the end of the body
--- config
    location = /t {
        content_by_lua_block {
            local sock, err = ngx.req.socket()
            if not sock then
                ngx.say("failed: ", err)
                return
            end
            ngx.say(sock:receive(5))
            ngx.say(sock:receive(3))
            local data, err, partial = sock:receive(4)
            ngx.say(data, " ", err, " [", partial, "]")
            ngx.say(sock:receive(1))
        }
    }
--- request
POST /t
hello world
--- response_body
hello
 wo
nil closed [rld]
nilclosed
--- error_log
attempt to receive data on a closed socket: u:
--- no_error_log
[alert]



=== TEST 2: req.socket: lines, receiveuntil and *a over a multipart body
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            ngx.say("first: ", sock:receive("*l"))
            local part = sock:receiveuntil("\r\n--xyz")
            ngx.say("part: [", part(), "]")
            ngx.say("rest: [", sock:receive("*a"), "]")
            ngx.say(sock:receive("*a"))
        }
    }
--- request eval
"POST /t\r\n--xyz\r\nline one\r\nline two\r\n--xyz--\r\nend"
--- response_body eval
"first: --xyz
part: [line one\r\nline two]
rest: [--\r\nend]

"
--- no_error_log
[error]



=== TEST 3: req.socket: a body that arrives in pieces is waited for
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            sock:settimeout(2000)
            ngx.say(sock:receive(11))
        }
    }
--- raw_request eval
["POST /t HTTP/1.0\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhel", "lo world"]
--- raw_request_middle_delay: 0.1
--- response_body
hello world
--- no_error_log
[error]



=== TEST 4: req.socket: a read timeout keeps the socket; the rest arrives later
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            sock:settimeout(50)
            local data, err, partial = sock:receive(11)
            ngx.say(data, " ", err, " [", partial, "]")
            sock:settimeout(2000)
            ngx.say(sock:receive(8))
        }
    }
--- raw_request eval
["POST /t HTTP/1.0\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhel", "lo world"]
--- raw_request_middle_delay: 0.3
--- response_body
nil timeout [hel]
lo world
--- error_log
lua tcp socket read timed out



=== TEST 5: req.socket: refusals (no body, body already read or discarded, chunked, twice)
--- config
    location = /nobody {
        content_by_lua_block { ngx.say(ngx.req.socket()) }
    }
    location = /read {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.socket())
        }
    }
    location = /twice {
        content_by_lua_block {
            assert(ngx.req.socket())
            ngx.say(ngx.req.socket())
            ngx.say(pcall(ngx.req.socket, false, 1))
        }
    }
--- request eval
["GET /nobody", "POST /read\nabc", "POST /twice\nabc"]
--- response_body eval
["nilno body\n", "nilrequest body already exists\n",
 "nilrequest body already exists\nfalseexpecting 0 or 1 argument, but got 2\n"]
--- no_error_log
[error]



=== TEST 6: req.socket: refused once nginx discards the body
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.discard_body()
            ngx.say(ngx.req.socket())
        }
    }
--- raw_request eval
["POST /t HTTP/1.0\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nabc", "def"]
--- raw_request_middle_delay: 0.1
--- response_body
nilrequest body discarded



=== TEST 6: req.socket: chunked request bodies are not supported
--- config
    location = /t {
        content_by_lua_block { ngx.say(ngx.req.socket()) }
    }
--- raw_request eval
"POST /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
--- response_body
nilchunked request bodies not supported yet



=== TEST 7: req.socket: what a body socket is not
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            local tcp = ngx.socket.tcp()
            ngx.say(sock.send, " ", sock.close, " ", sock.connect)
            ngx.say(pcall(tcp.send, sock, "x"))
            ngx.say(pcall(tcp.close, sock))
            ngx.say(pcall(tcp.connect, sock, "127.0.0.1", 80))
            ngx.say(sock:receive("*a"))
        }
    }
--- request
POST /t
abc
--- response_body
nil nil nil
falseattempt to write to request sockets
truenilattempt to close a request socket
falseattempt to re-connect a request socket
abc



=== TEST 8: req.socket: API disabled outside rewrite, access and content
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
        log_by_lua_block {
            ngx.log(ngx.WARN, "in log: ", select(2, pcall(ngx.req.socket)))
        }
    }
    location = /timer {
        content_by_lua_block {
            ngx.timer.at(0, function()
                ngx.log(ngx.WARN, "in timer: ", select(2, pcall(ngx.req.socket)))
            end)
            ngx.sleep(0.02)
            ngx.say("ok")
        }
    }
--- request eval
["GET /t", "GET /timer"]
--- response_body eval
["ok\n", "ok\n"]
--- error_log eval
[qr/in log: API disabled in the context of log_by_lua\*|in timer: API disabled in the context of ngx.timer/]



=== TEST 9: req.socket: works in rewrite and access handlers
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.ctx.head = assert(ngx.req.socket()):receive(3)
        }
        access_by_lua_block {
            local sock = ngx.req.socket()
            ngx.ctx.again = sock == nil
        }
        content_by_lua_block {
            ngx.say(ngx.ctx.head, " ", ngx.ctx.again)
        }
    }
--- request
POST /t
abcdef
--- response_body
abc true
--- no_error_log
[error]



=== TEST 10: req.socket: a large body streamed in chunks
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            local n, chunks, bad = 0, 0, 0
            while true do
                local data, err = sock:receiveany(8192)
                if not data then
                    ngx.say("end: ", err)
                    break
                end
                chunks = chunks + 1
                n = n + #data
                if data:find("[^a]") then bad = bad + 1 end
            end
            ngx.say("bytes: ", n, ", many chunks: ", chunks >= 25, ", bad: ", bad)
        }
    }
--- request eval
"POST /t\n" . ("a" x 200000)
--- response_body
end: closed
bytes: 200000, many chunks: true, bad: 0
--- no_error_log
[error]



=== TEST 11: req.socket: a client that goes away before the body ends
--- config
    location = /body {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            local data, err, partial = sock:receive(10)
            ngx.log(ngx.WARN, "body read: ", data, " ", err, " [", partial, "]")
        }
    }
    location = /t {
        content_by_lua_block {
            local c = ngx.socket.tcp()
            assert(c:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
            assert(c:send("POST /body HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc"))
            ngx.sleep(0.05)
            c:close()
            ngx.sleep(0.05)
            ngx.say("done")
        }
    }
--- request
GET /t
--- response_body
done
--- error_log
body read: nil client aborted [abc]



=== TEST 12: req.socket(true): the raw connection sends its own response
--- config
    location = /t {
        content_by_lua_block {
            local sock, err = ngx.req.socket(true)
            if not sock then
                ngx.say("failed: ", err)
                return
            end
            local body = sock:receive(3)
            local out = "got " .. body .. "\n"
            assert(sock:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #out
                             .. "\r\nX-Raw: yes\r\nConnection: close\r\n\r\n" .. out))
            local ok, err = ngx.say("more")
            ngx.log(ngx.WARN, "say: ", ok, " ", err)
            ngx.log(ngx.WARN, "flush: ", select(2, ngx.flush()))
            ngx.log(ngx.WARN, "again: ", select(2, ngx.req.socket(true)))
            ngx.log(ngx.WARN, "body reader: ", select(2, ngx.req.socket()))
        }
    }
--- request
POST /t
abc
--- response_headers
X-Raw: yes
--- response_body
got abc
--- error_log
say: nil raw request socket acquired
flush: raw request socket acquired
again: duplicate call
body reader: request body already exists



=== TEST 13: req.socket(true): full duplex, WebSocket style, with a read timeout
--- config
    location = /raw {
        content_by_lua_block {
            local sock = assert(ngx.req.socket(true))
            sock:settimeout(500)
            assert(sock:send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n"))
            while true do
                local line, err = sock:receive()
                if not line then
                    ngx.log(ngx.WARN, "raw receive: ", err)
                    return
                end
                if line == "quit" then
                    sock:send("bye\n")
                    return
                end
                assert(sock:send("echo: " .. line .. "\n"))
            end
        }
    }
    location = /t {
        content_by_lua_block {
            local function run(quit)
                local c = ngx.socket.tcp()
                assert(c:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
                assert(c:send("GET /raw HTTP/1.1\r\nHost: localhost\r\n\r\n"))
                local head = c:receiveuntil("\r\n\r\n")()
                ngx.say(head:match("^[^\r]+"))
                for _, m in ipairs({ "one", "two" }) do
                    ngx.sleep(0.02)
                    c:send(m .. "\n")
                    ngx.say(c:receive())
                end
                if quit then
                    c:send("quit\n")
                    ngx.say(c:receive())
                else
                    c:settimeout(2000)
                    ngx.say(c:receive())
                end
                c:close()
            end
            run(true)
            run(false)
        }
    }
--- request
GET /t
--- response_body
HTTP/1.1 101 Switching Protocols
echo: one
echo: two
bye
HTTP/1.1 101 Switching Protocols
echo: one
echo: two
nilclosed
--- error_log
raw receive: timeout
lua tcp socket read timed out



=== TEST 14: req.socket(true): refused while a body socket has more to read
--- config
    location = /t {
        content_by_lua_block {
            local body = assert(ngx.req.socket())
            local head = body:receive(2)
            local raw1, err1 = ngx.req.socket(true)
            local rest = body:receive("*a")
            local raw = assert(ngx.req.socket(true))
            local out = head .. "\n" .. tostring(raw1) .. " " .. err1 .. "\n" .. rest .. "\n"
            raw:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #out .. "\r\nConnection: close\r\n\r\n" .. out)
        }
    }
--- request
POST /t
abcdef
--- response_body
ab
nil pending request body reading in some other thread
cdef
--- no_error_log
[error]



=== TEST 16: req.socket: a body read in part is discarded when the content handler ends; the pipelined request is answered
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            ngx.say("got: ", sock:receive(5))
        }
    }
    location = /smuggled {
        content_by_lua_block { ngx.say("smuggled request ran") }
    }
    location = /next {
        content_by_lua_block { ngx.say("next: ", ngx.var.request_method) }
    }
--- pipelined_requests eval
["POST /t\n12345GET /smuggled HTTP/1.0\r\n\r\n", "GET /next"]
--- response_body eval
["got: 12345\n", "next: GET\n"]
--- no_error_log
[error]



=== TEST 17: req.socket: the rest of the body is discarded after rewrite_by_lua answers with ngx.exit, and after ngx.sleep and ngx.exit(403)
--- config
    location = /t {
        rewrite_by_lua_block {
            local sock = assert(ngx.req.socket())
            ngx.say("got: ", sock:receive(5))
            ngx.exit(200)
        }
        content_by_lua_block { ngx.say("content") }
    }
    location = /t403 {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            ngx.ctx.got = sock:receive(5)
            ngx.sleep(0.01)
            ngx.exit(403)
        }
    }
    location = /smuggled {
        content_by_lua_block { ngx.say("smuggled request ran") }
    }
    location = /next {
        content_by_lua_block { ngx.say("next: ", ngx.var.request_method) }
    }
--- pipelined_requests eval
["POST /t\n12345GET /smuggled HTTP/1.0\r\n\r\n",
 "POST /t403\n12345GET /smuggled HTTP/1.0\r\n\r\n",
 "GET /next"]
--- error_code eval
[200, 403, 200]
--- response_body_like eval
["^got: 12345\n\\z", "403 Forbidden", "^next: GET\n\\z"]
--- no_error_log
[error]



=== TEST 18: req.socket: a large body read in part is discarded while it still arrives, also before another module's content handler (static: 405 for POST)
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            ngx.say("got: ", sock:receive(5))
        }
    }
    location = /static.txt {
        rewrite_by_lua_block {
            local sock = assert(ngx.req.socket())
            assert(sock:receive(5) == "12345")
        }
    }
    location = /smuggled {
        content_by_lua_block { ngx.say("smuggled request ran") }
    }
    location = /next {
        content_by_lua_block { ngx.say("next: ", ngx.var.request_method) }
    }
--- user_files
>>> static.txt
static file
--- pipelined_requests eval
my $junk = ("GET /smuggled HTTP/1.0\r\n\r\n" x 4000);
["POST /t\n12345$junk", "POST /static.txt\n12345$junk", "GET /next"]
--- error_code eval
[200, 405, 200]
--- response_body_like eval
["^got: 12345\n\\z", "405 Not Allowed", "^next: GET\n\\z"]
--- no_error_log
[error]



=== TEST 19: req.socket: a body that arrives in pieces is waited for while the request also holds a cosocket
--- config
    location = /t {
        content_by_lua_block {
            local up = ngx.socket.tcp()
            local sock = assert(ngx.req.socket())
            sock:settimeout(1000)
            ngx.say(sock:receive(11))
            ngx.say(up:close())
        }
    }
--- raw_request eval
["POST /t HTTP/1.0\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhel", "lo world"]
--- raw_request_middle_delay: 0.1
--- response_body
hello world
nilclosed
--- no_error_log
[error]



=== TEST 20: req.socket(true) after a body socket read to the end: a send that must wait for the client is resumed by the raw socket's write events
--- mockeagain_max: 65536
--- config
    location = /t {
        content_by_lua_block {
            local body = assert(ngx.req.socket())
            local got = assert(body:receive("*a"))
            local raw = assert(ngx.req.socket(true))
            local payload = string.rep("x", 8 * 1024 * 1024)
            local ok, err = raw:send("HTTP/1.1 200 OK\r\nContent-Length: " .. #payload + #got
                .. "\r\nConnection: close\r\n\r\n" .. got .. payload)
            if not ok then ngx.log(ngx.ERR, "send: ", err) end
        }
    }
--- request
POST /t
body:
--- response_body eval
"body:" . ("x" x (8 * 1024 * 1024))
--- timeout: 20
--- no_error_log
[error]



=== TEST 21: req.socket: after *a read the whole body, *a again gives "", until another read failed with "closed" (and "" as partial data; the reads after it are refused, without partial data, as upstream's)
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            ngx.say("[", sock:receive("*a"), "]")
            ngx.say("[", sock:receive("*a"), "]")
            local data, err, partial = sock:receive(1)
            ngx.say(data, " ", err, " [", partial, "]")
            data, err, partial = sock:receive()
            ngx.say(data, " ", err, " [", partial, "]")
            ngx.say(sock:receive("*a"))
        }
    }
--- request
POST /t
hello
--- response_body
[hello]
[]
nil closed []
nil closed [nil]
nilclosed
--- error_log
attempt to receive data on a closed socket: u:
--- no_error_log
[alert]



=== TEST 22: ngx.req.socket: "Expect: 100-continue" is answered when the socket is taken, before any body byte arrived; not for HTTP/1.0 or other expectations
--- config
    lua_socket_log_errors off;
    location = /body {
        content_by_lua_block {
            ngx.sleep(0.05)  -- no 100 before the handler asks for the body
            local sock = assert(ngx.req.socket())
            local a = assert(sock:receive(5))
            local b = assert(sock:receive(6))
            ngx.say("body: ", a, b)
        }
    }
    location = /t {
        content_by_lua_block {
            local function try(ver, expect)
                local c = ngx.socket.tcp()
                c:settimeout(1000)
                assert(c:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT))
                assert(c:send("POST /body HTTP/" .. ver .. "\r\nHost: x\r\n"
                    .. "Connection: close\r\nExpect: " .. expect
                    .. "\r\nContent-Length: 11\r\n\r\n"))
                c:settimeout(20)
                local _, early = c:receive(1)
                c:settimeout(300)
                local interim, err = c:receive("*l")
                if interim then
                    assert(c:receive("*l") == "")
                end
                c:settimeout(1000)
                assert(c:send("hello world"))
                local rest = assert(c:receive("*a"))
                c:close()
                ngx.say(ver, " ", expect, ": at once ", early, ", then ",
                        interim or err, ", ", rest:match("^HTTP/1.1 %d+"), ", ",
                        rest:match("body: [^\n]*"))
            end
            try("1.1", "100-Continue")
            try("1.0", "100-continue")
            try("1.1", "something-else")
        }
    }
--- request
GET /t
--- response_body
1.1 100-Continue: at once timeout, then HTTP/1.1 100 Continue, HTTP/1.1 200, body: hello world
1.0 100-continue: at once timeout, then timeout, HTTP/1.1 200, body: hello world
1.1 something-else: at once timeout, then timeout, HTTP/1.1 200, body: hello world
--- no_error_log
[error]



=== TEST 23: ngx.req.socket: a request socket the GC collects writes upstream's finalizer trace, before the code after the collection runs
--- config
    location = /t {
        content_by_lua_block {
            do
                local sock = assert(ngx.req.socket())
                ngx.say(sock:receive(3))
            end
            collectgarbage()
            collectgarbage()
            ngx.log(ngx.WARN, "collected")
            ngx.say("done")
        }
    }
--- request
POST /t
hello
--- log_level: debug
--- response_body
hel
done
--- grep_error_log eval
qr/lua finalize socket|collected/
--- grep_error_log_out
lua finalize socket
collected



=== TEST 24: ngx.req.socket(true): refused with "http 1.0 buffering" while an HTTP/1.0 response's output is held back
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("hello")
            local sock, err = ngx.req.socket(true)
            ngx.log(ngx.WARN, "raw socket: ", sock and "got" or "nil", " ", err)
        }
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body
hello
--- error_log
raw socket: nil http 1.0 buffering
--- no_error_log
[error]



=== TEST 25: ngx.req.socket(true): with lua_http10_buffering off, an HTTP/1.0 request's raw socket is taken after output
--- config
    location = /t {
        lua_http10_buffering off;
        content_by_lua_block {
            ngx.say("hello")
            ngx.flush(true)
            local sock, err = ngx.req.socket(true)
            ngx.log(ngx.WARN, "raw socket: ", sock and "got" or "nil", " ", err)
            sock:send("raw bytes\n")
        }
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body
hello
raw bytes
--- error_log
raw socket: got nil
--- no_error_log
[error]
