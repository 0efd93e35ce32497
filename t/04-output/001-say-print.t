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
lua flush: waiting for the send buffer to drain
--- no_error_log
[error]
