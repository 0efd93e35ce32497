# lua_need_request_body: the body is read before the Lua handlers run; a
# body Lua never read is discarded when the response ends.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_need_request_body on: content_by_lua sees the body without read_body
--- config
    location = /t {
        lua_need_request_body on;
        content_by_lua_block {
            ngx.say("body: ", ngx.req.get_body_data())
            ngx.say("args: ", ngx.req.get_post_args().a)
        }
    }
--- request
POST /t
a=1&b=2
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body
body: a=1&b=2
args: 1
--- no_error_log
[error]



=== TEST 2: lua_need_request_body off (the default): nothing is read
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("body: ", ngx.req.get_body_data())
            local ok, err = pcall(ngx.req.get_post_args)
            ngx.say(err)
        }
    }
--- request
POST /t
a=1&b=2
--- response_body
body: nil
no request body found; maybe you should turn on lua_need_request_body?
--- no_error_log
[error]



=== TEST 3: lua_need_request_body: rewrite and access handlers see the body, read once
--- config
    location = /t {
        lua_need_request_body on;
        rewrite_by_lua_block { ngx.ctx.rw = ngx.req.get_body_data() }
        access_by_lua_block { ngx.ctx.acc = ngx.req.get_body_data() }
        content_by_lua_block { ngx.say(ngx.ctx.rw, " ", ngx.ctx.acc, " ", ngx.req.get_body_data()) }
    }
--- request
POST /t
hello
--- response_body
hello hello hello
--- no_error_log
[error]



=== TEST 4: lua_need_request_body: a body that arrives later suspends the content handler
--- config
    location = /t {
        lua_need_request_body on;
        content_by_lua_block { ngx.say("got ", ngx.req.get_body_data()) }
    }
--- raw_request eval
["POST /t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello", "world"]
--- raw_request_middle_delay: 0.2
--- response_body
got helloworld
--- no_error_log
[error]



=== TEST 5: lua_need_request_body: a body that arrives later suspends the rewrite and access phases
--- config
    location = /t {
        lua_need_request_body on;
        rewrite_by_lua_block { ngx.ctx.rw = ngx.req.get_body_data() }
        access_by_lua_block { ngx.ctx.acc = ngx.req.get_body_data() }
        content_by_lua_block { ngx.say(ngx.ctx.rw, " ", ngx.ctx.acc) }
    }
--- raw_request eval
["POST /t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello", "world"]
--- raw_request_middle_delay: 0.2
--- response_body
helloworld helloworld
--- no_error_log
[error]



=== TEST 6: lua_need_request_body: a body over client_body_buffer_size lands in a temp file
--- config
    client_body_buffer_size 1k;
    location = /t {
        lua_need_request_body on;
        content_by_lua_block {
            local f = ngx.req.get_body_file()
            local fh = io.open(f)
            local data = fh:read("*a")
            fh:close()
            ngx.say(ngx.req.get_body_data(), " ", #data, " ", data:sub(1, 3))
        }
    }
--- request eval
"POST /t\n" . ("abc" x 1000)
--- response_body
nil 3000 abc
--- no_error_log
[error]



=== TEST 7: lua_need_request_body: a body over client_max_body_size gives 413 before Lua runs
--- config
    location = /t {
        client_max_body_size 5;
        lua_need_request_body on;
        content_by_lua_block { ngx.log(ngx.ERR, "content ran") ngx.say("ran") }
    }
--- request
POST /t
0123456789
--- error_code: 413
--- no_error_log
content ran



=== TEST 8: lua_need_request_body: only for locations with a Lua handler; a GET has no body
--- config
    location = /t {
        lua_need_request_body on;
        content_by_lua_block { ngx.say(ngx.req.get_body_data(), " ", ngx.var.request_body) }
    }
--- request
GET /t
--- response_body
nil nil
--- no_error_log
[error]



=== TEST 9: lua_need_request_body: inherited from the server level, and read_body is then a no-op
--- config
    lua_need_request_body on;
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data())
        }
    }
--- request
POST /t
abc
--- response_body
abc
--- no_error_log
[error]



=== TEST 10: lua_need_request_body: invalid value fails at nginx -t
--- config
    location = /t {
        lua_need_request_body yes;
        content_by_lua_block { ngx.say(1) }
    }
--- must_die
--- error_log
invalid value "yes", it must be "on" or "off"



=== TEST 11: a body the handler did not read is discarded, so the next pipelined request parses
--- config
    location = /foo {
        content_by_lua_block { ngx.say("body: ", ngx.var.request_body) }
    }
    location = /bar {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say("body: ", ngx.var.request_body)
        }
    }
    location = /exit {
        content_by_lua_block { ngx.exit(200) }
    }
--- pipelined_requests eval
["POST /foo\nhello, world", "POST /exit\nsecond body", "POST /bar\nhiya, world"]
--- response_body eval
["body: nil\n", "", "body: hiya, world\n"]
--- error_code eval
[200, 200, 200]
--- no_error_log
[error]
