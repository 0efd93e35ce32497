# ngx.resp.get_headers and the ngx.resp module.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: resp.get_headers: set headers, Content-Type/Length, normalizing __index
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["X-Foo"] = "bar"
            ngx.header["Set-Cookie"] = { "a=1", "b=2" }
            ngx.header.content_type = "text/x-test"
            ngx.header.content_length = 7
            local h = ngx.resp.get_headers()
            ngx.log(ngx.WARN, "got: ", h.x_foo, " ", table.concat(h["set-cookie"], ","),
                    " ", h["Content-Type"], " ", h["content-length"])
            local raw = ngx.resp.get_headers(nil, true)
            ngx.log(ngx.WARN, "raw: ", raw["X-Foo"], " ", tostring(raw["x-foo"]))
            local _, err = ngx.resp.get_headers(1)
            ngx.log(ngx.WARN, "max: ", err)
            ngx.print("abcdef\n")
        }
    }
--- request
GET /t
--- response_body
abcdef
--- error_log
got: bar a=1,b=2 text/x-test 7
raw: bar nil
max: truncated
--- no_error_log
[error]



=== TEST 2: ngx.resp module: add_header keeps earlier values
--- config
    location = /t {
        content_by_lua_block {
            local resp = require "ngx.resp"
            ngx.header["X-A"] = "1"
            resp.add_header("X-A", "2")
            ngx.say(table.concat(resp.get_headers()["x-a"], ","))
        }
    }
--- request
GET /t
--- response_body
1,2
--- no_error_log
[error]
