# ngx.say, ngx.print, ngx.flush, ngx.eof, ngx.send_headers.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: say and print with every accepted type
--- config
    location = /t {
        content_by_lua_block {
            ngx.print("s", 1, 2.5, true, false, nil, ngx.null, "\n")
            ngx.say({ "a", { "b", { "c" } }, 3 })
            ngx.say()
            ngx.say("")
            ngx.print()
        }
    }
--- request
GET /t
--- response_body eval
"s12.5truefalsenilnull\nabc3\n\n\n"
--- no_error_log
[error]



=== TEST 2: say returns 1
--- config
    location = /t {
        content_by_lua_block {
            local ok = ngx.say("x")
            ngx.say(ok)
        }
    }
--- request
GET /t
--- response_body
x
1



=== TEST 3: a function argument is a clear error
--- config
    location = /t {
        content_by_lua_block { ngx.say("a", print) }
    }
--- request
GET /t
--- error_code: 500
--- error_log
bad argument #2 to 'say' (string, number, boolean, nil, ngx.null, or array table expected, but got function)



=== TEST 4: a hash table is refused
--- config
    location = /t {
        content_by_lua_block { ngx.print({ a = 1 }) }
    }
--- request
GET /t
--- error_code: 500
--- error_log
bad argument #1 to 'print' (non-array table found)



=== TEST 5: eof then say gives nil and "seen eof"
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("before")
            ngx.eof()
            local ok, err = ngx.say("after")
            ngx.log(ngx.WARN, "say after eof: ", ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
before
--- error_log
say after eof: nil seen eof



=== TEST 6: flush sends what was printed so far
--- config
    location = /t {
        content_by_lua_block {
            ngx.print("one ")
            ngx.flush(true)
            ngx.sleep(0.01)
            ngx.print("two")
        }
    }
--- request
GET /t
--- response_body chomp
one two



=== TEST 7: send_headers then headers_sent, second send_headers fails
--- config
    location = /t {
        content_by_lua_block {
            local before = ngx.headers_sent
            ngx.status = 202
            ngx.send_headers()
            local ok, err = ngx.send_headers()
            ngx.say(before, " ", ngx.headers_sent, " ", ok, " ", err)
        }
    }
--- request
GET /t
--- error_code: 202
--- response_body
false true nil header already sent



=== TEST 8: a large body in many pieces
--- mockeagain_max: 256
--- config
    location = /t {
        content_by_lua_block {
            local piece = string.rep("x", 1000)
            for i = 1, 1000 do ngx.print(piece) end
            ngx.say()
        }
    }
--- request
GET /t
--- response_body eval
"x" x 1000000 . "\n"



=== TEST 9: output in the rewrite phase finishes the response there, as upstream
--- config
    location = /t {
        rewrite_by_lua_block { ngx.print("r ") }
        access_by_lua_block { ngx.log(ngx.ERR, "access ran") }
        content_by_lua_block { ngx.log(ngx.ERR, "content ran") }
    }
--- request
GET /t
--- response_body chop
r 
--- no_error_log
[error]



=== TEST 10: ngx.eof with an argument is an error
--- config
    location = /t {
        content_by_lua_block { ngx.eof(1) }
    }
--- request
GET /t
--- error_code: 500
--- error_log
no argument is expected



=== TEST 11: flush(true) waits until a large body has been sent
--- mockeagain_max: 256
--- config
    location = /t {
        content_by_lua_block {
            ngx.print(string.rep("a", 8 * 1024 * 1024))
            local ok, err = ngx.flush(true)
            ngx.say(ok, err)
        }
    }
--- request
GET /t
--- response_body eval
"a" x (8 * 1024 * 1024) . "1nil\n"
--- error_log
lua flush requires waiting: buffered 0x
--- no_error_log
[error]



=== TEST 12: say/print: array tables are written 1..max with nil for holes; keys beyond a C int are not walked to; bad keys and element types refused
--- config
    location = /t {
        content_by_lua_block {
            ngx.say({ [1] = "a", [2^40] = "b" })
            ngx.print({ [1] = "a", [2^53] = "b", [math.huge] = "c" }, "\n")
            ngx.say({ "x", { "y", { [2^31] = "big", "z" } } })
            ngx.say({ [1] = "a", [3] = "c" }, { ngx.null, true, false, 1.5 })
            for _, t in ipairs({ { [1] = "a", [1.5] = "b" }, { [1] = "a", [-1] = "b" },
                                 { [1] = "a", [0] = "b" }, { "a", { k = 1 } } }) do
                ngx.say(select(2, pcall(ngx.say, t)))
            end
            ngx.say(select(2, pcall(ngx.print, "x", { "a", { print } })))
            ngx.say(select(2, pcall(ngx.say, { "a", ngx.say })))
        }
    }
--- request
GET /t
--- response_body
a
a
xyz
anilcnulltruefalse1.5
bad argument #1 to '?' (non-array table found)
bad argument #1 to '?' (non-array table found)
bad argument #1 to '?' (non-array table found)
bad argument #1 to '?' (non-array table found)
bad argument #2 to '?' (bad data type function found)
bad argument #1 to '?' (bad data type function found)
--- no_error_log
[error]



=== TEST 13: say/flush: streaming 256 MiB reuses sent buffers; the worker's peak RSS stays small
--- mockeagain_max: 65536
--- config
    location = /stream {
        content_by_lua_block {
            local chunk = string.rep("x", 65535)
            for i = 1, 4096 do
                ngx.say(chunk)
                if i % 16 == 0 then
                    assert(ngx.flush(true))
                end
            end
            local f = assert(io.open("/proc/self/status"))
            local hwm = tonumber(f:read("*a"):match("VmHWM:%s*(%d+) kB"))
            f:close()
            ngx.say(hwm < 64 * 1024 and "peak RSS below 64 MiB" or "peak RSS " .. hwm .. " kB")
        }
    }
    location = /t {
        content_by_lua_block {
            -- The test client is too slow for 256 MiB: a cosocket reads it.
            local sock = ngx.socket.tcp()
            sock:settimeout(30000)
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            assert(sock:send("GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
            local total, tail = 0, ""
            while true do
                local data, err = sock:receiveany(65536)
                if not data then
                    ngx.say(err)
                    break
                end
                total = total + #data
                tail = (tail .. data):sub(-64)
            end
            ngx.say(total > 256 * 1024 * 1024)
            ngx.say(tail:match("peak RSS[^\r\n]*"))
        }
    }
--- request
GET /t
--- response_body
closed
true
peak RSS below 64 MiB
--- timeout: 60
--- no_error_log
[error]



=== TEST 14: body_filter_by_lua: chunks replaced through ngx.arg[1] reuse sent buffers too
--- mockeagain_max: 65536
--- config
    location = /stream {
        body_filter_by_lua_block {
            if ngx.arg[1] ~= "" then
                ngx.arg[1] = ngx.arg[1]:upper()
            end
        }
        content_by_lua_block {
            local chunk = string.rep("x", 65535)
            for i = 1, 4096 do
                ngx.say(chunk)
                if i % 16 == 0 then
                    assert(ngx.flush(true))
                end
            end
            local f = assert(io.open("/proc/self/status"))
            local hwm = tonumber(f:read("*a"):match("VmHWM:%s*(%d+) kB"))
            f:close()
            ngx.say(hwm < 64 * 1024 and "peak RSS below 64 MiB" or "peak RSS " .. hwm .. " kB")
        }
    }
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeout(30000)
            assert(sock:connect("127.0.0.1", ngx.var.server_port))
            assert(sock:send("GET /stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
            local total, tail, lower = 0, "", false
            while true do
                local data, err = sock:receiveany(65536)
                if not data then
                    ngx.say(err)
                    break
                end
                total = total + #data
                lower = lower or data:find("xxx", 1, true) ~= nil
                tail = (tail .. data):sub(-64)
            end
            ngx.say(total > 256 * 1024 * 1024, " ", lower)
            ngx.say(tail:match("PEAK RSS[^\r\n]*"))
        }
    }
--- request
GET /t
--- response_body
closed
true false
PEAK RSS BELOW 64 MIB
--- timeout: 60
--- no_error_log
[error]



=== TEST 15: say/print: the argument errors name the other Lua types (userdata, thread, cdata), as arguments and as table elements
--- config
    location = /t {
        content_by_lua_block {
            local ffi = require "ffi"
            local bad = { newproxy(), coroutine.create(print), ffi.new("int[1]") }
            for _, v in ipairs(bad) do
                ngx.say(select(2, pcall(ngx.say, "a", v)))
                ngx.say(select(2, pcall(ngx.print, { "a", { v } })))
            end
        }
    }
--- request
GET /t
--- response_body
bad argument #2 to '?' (string, number, boolean, nil, ngx.null, or array table expected, but got userdata)
bad argument #1 to '?' (bad data type userdata found)
bad argument #2 to '?' (string, number, boolean, nil, ngx.null, or array table expected, but got thread)
bad argument #1 to '?' (bad data type thread found)
bad argument #2 to '?' (string, number, boolean, nil, ngx.null, or array table expected, but got cdata)
bad argument #1 to '?' (bad data type cdata found)
--- no_error_log
[error]



=== TEST 16: flush: before the header went out, and without body data unless waiting, there is "nothing to flush", as upstream (the status can still change)
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = ngx.flush()
            ngx.status = 404
            ngx.send_headers()
            local ok2, err2 = ngx.flush()
            local ok3, err3 = ngx.flush(true)
            ngx.say(tostring(ok), " ", err, "; ", tostring(ok2), " ", err2, "; ", ok3, " ", err3)
            ngx.say(ngx.flush())
        }
    }
--- request
GET /t
--- error_code: 404
--- response_body
nil nothing to flush; nil nothing to flush; 1 nil
1
--- no_error_log
[error]



=== TEST 17: flush(true) under limit_rate: each wait ends when the rate allows the rest, and a later flush still waits for limit_rate's timer (no hang)
--- config
    location = /t {
        limit_rate 200;
        content_by_lua_block {
            local start = ngx.now()
            for i = 1, 3 do
                ngx.print(string.rep(tostring(i), 150))
                local ok, err = ngx.flush(true)
                if not ok then
                    ngx.log(ngx.ERR, "flush ", i, ": ", err)
                end
            end
            ngx.update_time()
            ngx.log(ngx.WARN, "limited flushes took ", math.floor(ngx.now() - start), " s")
        }
    }
--- request
GET /t
--- response_body eval
"1" x 150 . "2" x 150 . "3" x 150
--- error_log eval
[qr/limited flushes took [1-3] s/, qr/lua flush requires waiting: buffered 0x[0-9a-f]+, delayed:1/]
--- no_error_log
[error]
--- timeout: 6
