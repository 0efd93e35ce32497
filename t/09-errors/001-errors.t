# Lua errors in handlers: 500, a traceback in the log, never a crash.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: runtime error: 500 and a stack traceback
--- config
    location = /t {
        content_by_lua_block {
            local function inner() error("deep failure") end
            inner()
        }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
[
qr/\[error\] .*lua entry thread aborted: runtime error: content_by_lua\(nginx\.conf:\d+\):2: deep failure$/,
qr/^stack traceback:$/,
qr/^\s+content_by_lua\(nginx\.conf:\d+\):2: in function 'inner'$/,
]



=== TEST 2: syntax error in inline code
--- config
    location = /t {
        content_by_lua_block { ngx.say( }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/failed to load inlined Lua code: content_by_lua\(nginx\.conf:\d+\):1: unexpected symbol near '\}'|failed to load inlined Lua code: content_by_lua\(nginx\.conf:\d+\):\d+:/



=== TEST 3: error after the header went out aborts the connection
--- config
    location = /t {
        content_by_lua_block { ngx.say("partial") ngx.flush() error("late") }
    }
--- request
GET /t
--- ignore_response
--- error_log
late



=== TEST 4: error with a table value
--- config
    location = /t {
        content_by_lua_block { error({ code = 1 }) }
    }
--- request
GET /t
--- error_code: 500
--- error_log
lua entry thread aborted: runtime error: unknown reason



=== TEST 5: errors after a yield
--- config
    location = /t {
        content_by_lua_block { ngx.sleep(0.001) local t = nil; return t.x }
    }
--- request
GET /t
--- error_code: 500
--- error_log
attempt to index local 't' (a nil value)



=== TEST 6: error handled with pcall does not end the request
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(error, "caught")
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
false caught
--- no_error_log
[error]



=== TEST 7: the worker survives errors and keeps serving
--- config
    location = /err {
        content_by_lua_block { error("x") }
    }
    location = /ok {
        content_by_lua_block { ngx.say("alive") }
    }
--- request eval
["GET /err", "GET /ok", "GET /err", "GET /ok"]
--- error_code eval
[500, 200, 500, 200]
--- response_body_like eval
["500", "alive", "500", "alive"]
