# content_by_lua*.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: hello
--- config
    location = /t {
        content_by_lua_block { ngx.say("hello") }
    }
--- request
GET /t
--- response_body
hello
--- response_headers
Content-Type: text/plain
--- no_error_log
[error]



=== TEST 2: no output gives an empty 200
--- config
    location = /t {
        content_by_lua_block { local a = 1 }
    }
--- request
GET /t
--- response_body
--- error_code: 200



=== TEST 3: HEAD request: header only
--- config
    location = /t {
        content_by_lua_block { ngx.say("body") }
    }
--- request
HEAD /t
--- response_body
--- no_error_log
[error]



=== TEST 4: HTTP/1.0 client gets the body
--- config
    location = /t {
        content_by_lua_block { ngx.say("one") ngx.say("two") }
    }
--- request
GET /t HTTP/1.0
--- response_body
one
two



=== TEST 5: HEAD over HTTP/1.0: the header goes out at the first output, without the Content-Length HTTP/1.0 buffering gives a GET
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("one")
            ngx.log(ngx.WARN, "header sent after the first output: ", ngx.headers_sent)
            ngx.say("two")
        }
    }
--- request
HEAD /t HTTP/1.0
--- response_headers
!Content-Length
--- response_body
--- error_log
header sent after the first output: true
--- no_error_log
[error]



=== TEST 6: ngx.exit(404) without output gives nginx's error page
--- config
    location = /t {
        content_by_lua_block { ngx.exit(404) }
    }
--- request
GET /t
--- error_code: 404
--- response_body_like: 404 Not Found



=== TEST 7: ngx.exit(201) without output sets the status
--- config
    location = /t {
        content_by_lua_block { ngx.exit(201) }
    }
--- request
GET /t
--- error_code: 201



=== TEST 8: ngx.exit after output keeps the output
--- config
    location = /t {
        content_by_lua_block { ngx.say("partial") ngx.exit(200) ngx.say("never") }
    }
--- request
GET /t
--- response_body
partial



=== TEST 9: ngx.exit(ngx.ERROR) aborts the request
--- config
    location = /t {
        content_by_lua_block { ngx.exit(ngx.ERROR) }
    }
--- request
GET /t
--- ignore_response
--- no_error_log
[alert]



=== TEST 10: content handler in an "if" block
--- config
    location = /t {
        if ($arg_a) {
            content_by_lua_block { ngx.say("in if") }
        }
        content_by_lua_block { ngx.say("outside") }
    }
--- request eval
["GET /t?a=1", "GET /t"]
--- response_body eval
["in if\n", "outside\n"]
