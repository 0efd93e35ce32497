# ngx.req.read_body, get_body_data, get_body_file, discard_body,
# set_body_data, get_post_args.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: read_body: small body in memory
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data(), " ", ngx.req.get_body_file())
        }
    }
--- request
POST /t
hello world
--- response_body
hello world nil
--- no_error_log
[error]



=== TEST 2: read_body: no body
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data())
        }
    }
--- request
GET /t
--- response_body
nil



=== TEST 3: get_body_data: nil before read_body
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.req.get_body_data())
        }
    }
--- request
POST /t
abc
--- response_body
nil



=== TEST 4: read_body: waits for a body sent in pieces (yields), in rewrite
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.read_body()
            ngx.ctx.body = ngx.req.get_body_data()
        }
        content_by_lua_block { ngx.say("got ", ngx.ctx.body) }
    }
--- raw_request eval
["POST /t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello", "world"]
--- raw_request_middle_delay: 0.2
--- response_body
got helloworld
--- no_error_log
[error]



=== TEST 5: read_body: large body goes to a temp file
--- config
    client_body_buffer_size 1k;
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            local f = ngx.req.get_body_file()
            local fh = io.open(f, "rb")
            local data = fh:read("*a")
            fh:close()
            ngx.say(ngx.req.get_body_data(), " ", #data, " ", data:sub(1, 3))
        }
    }
--- request eval
"POST /t\n" . ("x" x 5000)
--- response_body
nil 5000 xxx
--- no_error_log
[error]



=== TEST 6: read_body: chunked request body
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data())
        }
    }
--- raw_request eval
"POST /t HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
--- response_body
hello world
--- no_error_log
[error]



=== TEST 7: read_body: too large gives 413
--- config
    location = /t {
        client_max_body_size 10;
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say("not reached")
        }
    }
--- request eval
"POST /t\n" . ("x" x 100)
--- error_code: 413



=== TEST 8: read_body: HTTP/1.0 request
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data())
        }
    }
--- raw_request eval
"POST /t HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"
--- response_body
abc



=== TEST 9: read_body: disabled in log_by_lua and header_filter_by_lua
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
        header_filter_by_lua_block {
            local ok, err = pcall(ngx.req.read_body)
            ngx.log(ngx.WARN, "hf: ", err)
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log
hf: API disabled in the context of header_filter_by_lua*



=== TEST 10: discard_body: the body is not available afterwards
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.discard_body()
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data())
        }
    }
--- request
POST /t
abc
--- response_body
nil
--- no_error_log
[error]



=== TEST 11: set_body_data: replaces the body sent upstream, with its length
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.read_body()
            ngx.req.set_body_data("replaced")
        }
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data(), " ", ngx.var.http_content_length)
        }
    }
--- request
POST /t
original body
--- response_body
replaced 8
--- no_error_log
[error]



=== TEST 12: set_body_data: before read_body
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.req.set_body_data, "x")))
        }
    }
--- request
POST /t
abc
--- response_body
request body not read yet



=== TEST 13: get_post_args: form body, max and truncated
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            local args = ngx.req.get_post_args()
            ngx.say(args.a, " ", args.b, " ", table.concat(args.c, ","), " ", args.d)
            local _, err = ngx.req.get_post_args(1)
            ngx.say(err)
        }
    }
--- request
POST /t
a=1&b=x+y%21&c=1&c=2&d
--- response_body
1 x y! 1,2 true
truncated
--- log_level: debug
--- error_log
lua hit query args limit 1
--- no_error_log
[error]



=== TEST 14: get_post_args: body not read (raises), body in a temp file (nil and upstream's error)
--- config
    client_body_buffer_size 1k;
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.req.get_post_args)))
            ngx.req.read_body()
            local args, err = ngx.req.get_post_args()
            ngx.say(args, " ", err)
        }
    }
--- request eval
"POST /t\na=" . ("x" x 5000)
--- response_body
no request body found; maybe you should turn on lua_need_request_body?
nil request body in temp file not supported
