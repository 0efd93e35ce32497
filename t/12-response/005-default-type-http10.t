# lua_use_default_type and lua_http10_buffering.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_use_default_type on (the default): default_type is sent
--- config
    default_type text/lua-test;
    location = /t {
        content_by_lua_block { ngx.say("hi") }
    }
--- request
GET /t
--- response_headers
Content-Type: text/lua-test
--- response_body
hi



=== TEST 2: lua_use_default_type off: no Content-Type unless Lua sets one
--- config
    default_type text/lua-test;
    lua_use_default_type off;
    location = /t {
        content_by_lua_block { ngx.say("hi") }
    }
    location = /set {
        content_by_lua_block {
            ngx.header.content_type = "application/x-set"
            ngx.say("hi")
        }
    }
--- request eval
["GET /t", "GET /set"]
--- response_headers eval
["!Content-Type", "Content-Type: application/x-set"]



=== TEST 3: lua_use_default_type: clearing Content-Type in Lua keeps it cleared
--- config
    default_type text/lua-test;
    location = /t {
        content_by_lua_block {
            ngx.header.content_type = "text/x-first"
            ngx.header.content_type = nil
            ngx.say("hi")
        }
    }
--- request
GET /t
--- response_headers
!Content-Type



=== TEST 4: lua_use_default_type: no default type on a 304
--- config
    default_type text/lua-test;
    location = /t {
        content_by_lua_block {
            ngx.status = 304
            ngx.send_headers()
        }
    }
--- request
GET /t
--- error_code: 304
--- response_headers
!Content-Type



=== TEST 5: lua_http10_buffering on (the default): an HTTP/1.0 response gets Content-Length
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("hello")
            ngx.print("world", "!")
            local ok, err = ngx.flush()
            ngx.say(tostring(ok), " ", err)
        }
    }
--- request
GET /t HTTP/1.0
--- response_headers
Content-Length: 26
--- response_body
hello
world!nil buffering
--- log_level: debug
--- error_log
lua buffering output bufs for the HTTP 1.0 request
lua http 1.0 buffering makes ngx.flush() a no-op



=== TEST 6: lua_http10_buffering off: an HTTP/1.0 response has no Content-Length
--- config
    lua_http10_buffering off;
    location = /t {
        content_by_lua_block {
            ngx.say("hello")
            local ok, err = ngx.flush()
            ngx.say(tostring(ok), " ", err)
        }
    }
--- request
GET /t HTTP/1.0
--- response_headers
!Content-Length
--- response_body
hello
1 nil



=== TEST 7: lua_http10_buffering: HTTP/1.1 responses are not buffered
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("hello")
            local ok, err = ngx.flush()
            ngx.say(tostring(ok), " ", err)
        }
    }
--- request
GET /t
--- response_headers
!Content-Length
Transfer-Encoding: chunked
--- response_body
hello
1 nil



=== TEST 8: lua_http10_buffering: a Content-Length set by Lua is kept, and the buffered body goes out with ngx.exit's status
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["Content-Length"] = 6
            ngx.say("abcde")
            ngx.flush()
        }
    }
    location = /exit {
        content_by_lua_block {
            ngx.say("not found here")
            ngx.exit(404)
        }
    }
--- request eval
["GET /t HTTP/1.0", "GET /exit HTTP/1.0"]
--- error_code eval
[200, 404]
--- response_headers eval
["Content-Length: 6", "Content-Length: 15"]
--- response_body eval
["abcde\n", "not found here\n"]



=== TEST 9: lua_http10_buffering: the header filter sees the computed Content-Length
--- config
    location = /t {
        header_filter_by_lua_block { ngx.header["X-Len"] = ngx.header["Content-Length"] }
        content_by_lua_block { ngx.print("12345") ngx.print("678") }
    }
--- request
GET /t HTTP/1.0
--- response_headers
X-Len: 8
Content-Length: 8
--- response_body chomp
12345678
