# The status ngx.exit and ngx.status leave on the response.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.exit(404) sets the status, which an `error_page 404 = /uri` target keeps
--- config
    error_page 404 = /err;
    location = /foo {
        content_by_lua_block { ngx.exit(404) }
    }
    location = /nginx {
        return 404;
    }
    location = /err {
        content_by_lua_block { ngx.say("error page, status ", ngx.status) }
    }
--- request eval
["POST /foo\nbody", "GET /nginx"]
--- error_code eval
[404, 200]
--- response_body eval
["error page, status 404\n", "error page, status 0\n"]
--- no_error_log
[error]



=== TEST 2: ngx.status = 101: the status line carries upstream's reason, which nginx has none of
--- config
    location = /t {
        content_by_lua_block {
            ngx.status = 101
            ngx.header["Upgrade"] = "websocket"
            ngx.send_headers()
            ngx.log(ngx.WARN, "status: ", ngx.status)
        }
    }
--- request
GET /t
--- error_code: 101
--- raw_response_headers_like: ^HTTP/1\.1 101 Switching Protocols\r\n
--- error_log
status: 101
--- no_error_log
[error]



=== TEST 3: ngx.status: a status set after 101 gets nginx's own line again
--- config
    location = /t {
        content_by_lua_block {
            ngx.status = 101
            ngx.status = 404
            ngx.say("gone")
        }
    }
--- request
GET /t
--- error_code: 404
--- raw_response_headers_like: ^HTTP/1\.1 404 Not Found\r\n
--- response_body
gone
--- no_error_log
[error]
