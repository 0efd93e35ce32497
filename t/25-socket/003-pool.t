# Keepalive pools: pool_size, backlog (queued connects), pool lifetime.
use Test::Nginx::Socket::Lua;

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: pool: connect checks the pool options
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            local function try(opts)
                local ok, err = pcall(sock.connect, sock, "127.0.0.1", $TEST_NGINX_REDIS_PORT, opts)
                ngx.say(ok and "ok" or err)
                sock:close()
            end
            try({ pool_size = "a" })
            try({ pool_size = 0 })
            try({ backlog = -1 })
            try({ pool = {} })
            try({ backlog = 0 })
            try({ pool = 12, pool_size = 3 })
        }
    }
--- request
GET /t
--- response_body
bad argument #4 to '?' (bad "pool_size" option type: string)
bad argument #4 to '?' (bad "pool_size" option value: 0)
bad argument #4 to '?' (bad "backlog" option value: -1)
bad argument #4 to '?' (bad "pool" option type: table)
ok
ok
--- no_error_log
[error]



=== TEST 2: pool: beyond pool_size + backlog, connects fail at once
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local opts = { pool = "p2", pool_size = 2, backlog = 0 }
            local a = assert(ngx.socket.connect("127.0.0.1", port, opts))
            local b = assert(ngx.socket.connect("127.0.0.1", port, opts))
            local c, err = ngx.socket.connect("127.0.0.1", port, opts)
            ngx.say("third: ", c, " ", err)
            assert(a:setkeepalive())
            local ok, err = a:connect("127.0.0.1", port, opts)
            ngx.say("reconnect: ", ok, " ", err, ", reused ", a:getreusedtimes())
            c, err = ngx.socket.connect("127.0.0.1", port, opts)
            ngx.say("again: ", c, " ", err)
        }
    }
--- request
GET /t
--- response_body
third: nil too many waiting connect operations
reconnect: 1 nil, reused 1
again: nil too many waiting connect operations
--- no_error_log
[error]



=== TEST 3: pool: a queued connect gets the connection another thread puts back
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local opts = { pool = "p3", pool_size = 1, backlog = 1 }
            local first = assert(ngx.socket.connect("127.0.0.1", port, opts))
            local t = ngx.thread.spawn(function()
                ngx.say("waiting")
                local s, err = ngx.socket.connect("127.0.0.1", port, opts)
                ngx.say("queued connect: ", s and "ok" or err, ", reused ", s and s:getreusedtimes())
                s:send("PING\r\n")
                ngx.say(s:receive())
                s:setkeepalive()
            end)
            ngx.sleep(0.05)
            ngx.say("releasing")
            assert(first:setkeepalive())
            ngx.thread.wait(t)
        }
    }
--- request
GET /t
--- response_body
waiting
releasing
queued connect: ok, reused 1
+PONG
--- no_error_log
[error]



=== TEST 4: pool: closing a connection lets a queued connect open a new one
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local opts = { pool = "p4", pool_size = 1, backlog = 2 }
            local first = assert(ngx.socket.connect("127.0.0.1", port, opts))
            local t = ngx.thread.spawn(function()
                local s, err = ngx.socket.connect("127.0.0.1", port, opts)
                ngx.say("queued connect: ", s and "ok" or err, ", reused ", s and s:getreusedtimes())
            end)
            ngx.sleep(0.02)
            first:close()
            ngx.thread.wait(t)
        }
    }
--- request
GET /t
--- response_body
queued connect: ok, reused 0
--- no_error_log
[error]



=== TEST 5: pool: a queued connect times out after the connect timeout
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local opts = { pool = "p5", pool_size = 1, backlog = 1 }
            local first = assert(ngx.socket.connect("127.0.0.1", port, opts))
            local s = ngx.socket.tcp()
            s:settimeouts(100, 1000, 1000)
            local t0 = ngx.now()
            local ok, err = s:connect("127.0.0.1", port, opts)
            ngx.update_time()
            ngx.say("queued: ", ok, " ", err, " after ", ngx.now() - t0 >= 0.09)
            -- the timed-out operation left the queue: one may queue again
            s:settimeouts(50, 1000, 1000)
            ngx.say("again: ", s:connect("127.0.0.1", port, opts))
        }
    }
--- request
GET /t
--- response_body
queued: nil timeout after true
again: niltimeout
--- error_log eval
qr/lua tcp socket queued connect timed out, when trying to connect to 127.0.0.1:\d+/



=== TEST 6: pool: killing a queued thread gives its place back
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local opts = { pool = "p6", pool_size = 1, backlog = 1 }
            local first = assert(ngx.socket.connect("127.0.0.1", port, opts))
            local t = ngx.thread.spawn(function()
                return ngx.socket.connect("127.0.0.1", port, opts)
            end)
            local s, err = ngx.socket.connect("127.0.0.1", port, opts)
            ngx.say("while queued: ", s, " ", err)
            ngx.say("kill: ", ngx.thread.kill(t))
            local t2 = ngx.thread.spawn(function()
                local s, err = ngx.socket.connect("127.0.0.1", port, opts)
                ngx.say("after kill: ", s and "ok" or err)
            end)
            first:close()
            ngx.thread.wait(t2)
        }
    }
--- request
GET /t
--- response_body
while queued: nil too many waiting connect operations
kill: 1
after kill: ok
--- no_error_log
[error]



=== TEST 7: pool: backlog alone takes lua_socket_pool_size as the pool size
--- config
    lua_socket_pool_size 1;
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local opts = { pool = "p7", backlog = 0 }
            local a = assert(ngx.socket.connect("127.0.0.1", port, opts))
            ngx.say(ngx.socket.connect("127.0.0.1", port, opts))
        }
    }
--- request
GET /t
--- response_body
niltoo many waiting connect operations
--- no_error_log
[error]



=== TEST 8: pool: setkeepalive creates a pool only with a positive size
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT, { pool = "p8" }))
            ngx.say(select(2, pcall(sock.setkeepalive, sock, 0, 0)))
            ngx.say(select(2, pcall(sock.setkeepalive, sock, "x")))
            ngx.say(sock:setkeepalive(0, 1))
            ngx.say(sock:setkeepalive())
        }
    }
--- request
GET /t
--- response_body
bad argument #3 to '?' (bad "pool_size" option value: 0)
bad argument #2 to '?' (number expected, got string)
1
nilclosed
--- no_error_log
[error]



=== TEST 9: pool: an emptied pool is forgotten; the next connect sizes it anew
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local a = assert(ngx.socket.connect("127.0.0.1", port, { pool = "p9", pool_size = 1, backlog = 0 }))
            ngx.say(ngx.socket.connect("127.0.0.1", port, { pool = "p9", pool_size = 5, backlog = 0 }))
            a:close()
            local opts = { pool = "p9", pool_size = 2, backlog = 0 }
            local b = assert(ngx.socket.connect("127.0.0.1", port, opts))
            local c, err = ngx.socket.connect("127.0.0.1", port, opts)
            ngx.say("second in the new pool: ", c and "ok" or err)
        }
    }
--- request
GET /t
--- response_body
niltoo many waiting connect operations
second in the new pool: ok
--- no_error_log
[error]



=== TEST 10: pool: a full pool evicts its oldest idle connection
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local socks = {}
            for i = 1, 3 do
                socks[i] = assert(ngx.socket.connect("127.0.0.1", port, { pool = "p10" }))
            end
            for i = 1, 3 do
                assert(socks[i]:setkeepalive(10000, 2))
            end
            local reused = {}
            for i = 1, 3 do
                local s = assert(ngx.socket.connect("127.0.0.1", port, { pool = "p10" }))
                reused[#reused + 1] = s:getreusedtimes()
            end
            ngx.say(table.concat(reused, " "))
        }
    }
--- request
GET /t
--- response_body
1 1 0
--- no_error_log
[error]



=== TEST 11: backlog: a queued connect to a host that does not parse fails with upstream's error once its turn comes
--- config
    location = /t {
        content_by_lua_block {
            local opts = { pool = "q", pool_size = 1, backlog = 1 }
            local sock = assert(ngx.socket.connect("127.0.0.1", $TEST_NGINX_REDIS_PORT, opts))
            ngx.timer.at(0, function()
                local s, err = ngx.socket.connect("", $TEST_NGINX_REDIS_PORT, opts)
                ngx.log(ngx.WARN, "queued connect: ", s, " ", err)
            end)
            ngx.sleep(0.01)
            assert(sock:close())
            ngx.sleep(0.01)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log
queued connect: nil failed to parse host name "": no host
--- grep_error_log eval: qr/queue connect operation for connection pool/
--- grep_error_log_out
queue connect operation for connection pool
--- no_error_log
[error]



=== TEST 12: backlog: when a resumed connect fails at once, the next queued one gets the slot
--- config
    location = /t {
        content_by_lua_block {
            local opts = { pool = "q", pool_size = 1, backlog = 2 }
            local function try(host)
                local sock = ngx.socket.tcp()
                local ok, err = sock:connect(host, $TEST_NGINX_REDIS_PORT, opts)
                if not ok then
                    ngx.say(err)
                    return
                end
                ngx.say("connected in a light thread")
                sock:close()
            end
            local sock = assert(ngx.socket.connect("127.0.0.1", $TEST_NGINX_REDIS_PORT, opts))
            local t1 = ngx.thread.spawn(try, "")
            local t2 = ngx.thread.spawn(try, "127.0.0.1")
            assert(sock:close())
            ngx.thread.wait(t1)
            ngx.thread.wait(t2)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
failed to parse host name "": no host
connected in a light thread
ok
--- no_error_log
[error]



=== TEST 13: backlog: every queued connect of a full pool times out; none connects beyond pool_size
--- config
    lua_socket_log_errors off;
    location = /t {
        content_by_lua_block {
            local opts = { pool = "p5", pool_size = 5, backlog = 5 }
            local held = {}
            for i = 1, 5 do
                held[i] = assert(ngx.socket.connect("127.0.0.1", $TEST_NGINX_REDIS_PORT, opts))
            end
            local threads = {}
            for i = 1, 6 do
                threads[i] = ngx.thread.spawn(function()
                    local s = ngx.socket.tcp()
                    s:settimeouts(50, 1000, 1000)
                    local ok, err = s:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT, opts)
                    return tostring(ok) .. " " .. tostring(err)
                end)
            end
            for i = 1, 6 do
                ngx.say(i, ": ", select(2, ngx.thread.wait(threads[i])))
            end
        }
    }
--- request
GET /t
--- response_body
1: nil timeout
2: nil timeout
3: nil timeout
4: nil timeout
5: nil timeout
6: nil too many waiting connect operations
--- no_error_log
[error]



=== TEST 14: pool: setkeepalive and a reuse write upstream's debug lines
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local a = assert(ngx.socket.connect("127.0.0.1", port, { pool = "p14" }))
            assert(a:setkeepalive(100, 3))
            local b = assert(ngx.socket.connect("127.0.0.1", port, { pool = "p14" }))
            ngx.say("reused: ", b:getreusedtimes())
            assert(b:setkeepalive(0))
        }
    }
--- request
GET /t
--- response_body
reused: 1
--- error_log eval
[qr/lua tcp socket set keepalive: saving connection 0x[0-9a-f]+/,
qr/lua tcp socket connection pool size: 3, backlog: -1/,
'lua tcp socket keepalive create connection pool for key "p14"',
"lua tcp socket keepalive timeout: 100 ms",
"lua tcp socket pool get keepalive peer",
qr/lua tcp socket get keepalive peer: using connection 0x[0-9a-f]+, fd:\d+/,
"lua tcp socket keepalive timeout: unlimited"]
--- no_error_log
[error]



=== TEST 15: pool: an idle connection that times out is closed, and its emptied pool freed, with upstream's debug lines
--- config
    location = /t {
        content_by_lua_block {
            local port = $TEST_NGINX_REDIS_PORT
            local a = assert(ngx.socket.connect("127.0.0.1", port, { pool = "p15" }))
            assert(a:setkeepalive(10))
            ngx.sleep(0.05)
            local b = assert(ngx.socket.connect("127.0.0.1", port, { pool = "p15" }))
            ngx.say("reused: ", b:getreusedtimes())
        }
    }
--- request
GET /t
--- response_body
reused: 0
--- error_log eval
["lua tcp socket keepalive max idle timeout",
qr/lua tcp socket keepalive close handler: fd:\d+/,
'lua tcp socket keepalive: free connection pool for "p15"']
--- no_error_log
[error]
