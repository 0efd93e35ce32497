# ngx.req.get_uri_args / set_uri_args / set_uri.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: get_uri_args: values, bare keys, repeats, unescaping
--- config
    location = /t {
        content_by_lua_block {
            local args = ngx.req.get_uri_args()
            local keys = {}
            for k in pairs(args) do keys[#keys + 1] = k end
            table.sort(keys)
            for _, k in ipairs(keys) do
                local v = args[k]
                if type(v) == "table" then v = table.concat(v, ",") end
                ngx.say(k, "=", tostring(v))
            end
        }
    }
--- request
GET /t?a=1&b&c=&a=2&d=%41+%42&&=x&e%20f=g
--- response_body
a=1,2
b=true
c=
d=A B
e f=g
--- no_error_log
[error]



=== TEST 2: get_uri_args: max and "truncated"
--- config
    location = /t {
        content_by_lua_block {
            local args, err = ngx.req.get_uri_args(2)
            ngx.say(args.a, " ", args.b, " ", args.c, " ", err)
            args, err = ngx.req.get_uri_args()
            local n = 0
            for _ in pairs(args) do n = n + 1 end
            ngx.say(n, " ", err)
        }
    }
--- request eval
"GET /t?a=1&b=2&c=3&" . CORE::join("&", map { "k$_=$_" } 1..120)
--- response_body
1 2 nil truncated
100 truncated
--- log_level: debug
--- error_log
lua hit query args limit 2
lua hit query args limit 100



=== TEST 3: get_uri_args: none
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(next(ngx.req.get_uri_args()))
        }
    }
--- request
GET /t
--- response_body
nil



=== TEST 4: set_uri_args: string and table, seen by $args and upstream
--- config
    location = /t {
        rewrite_by_lua_block {
            if ngx.var.arg_mode == "str" then
                ngx.req.set_uri_args("x=1&y=2")
            else
                ngx.req.set_uri_args({ b = "x y", a = { 1, 2 }, c = true })
            end
        }
        proxy_pass http://127.0.0.1:$server_port/back$is_args$args;
    }
    location = /back {
        content_by_lua_block {
            -- a table's pairs come in table order, as upstream's
            local parts = {}
            for p in ngx.var.args:gmatch("[^&]+") do
                parts[#parts + 1] = p
            end
            table.sort(parts)
            ngx.say(table.concat(parts, "&"))
        }
    }
--- request eval
["GET /t?mode=str", "GET /t?mode=tab"]
--- response_body eval
["x=1&y=2\n", "a=1&a=2&b=x%20y&c\n"]
--- no_error_log
[error]



=== TEST 5: set_uri_args: bad argument
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.req.set_uri_args, nil)))
        }
    }
--- request
GET /t
--- response_body
bad argument #1 to 'set_uri_args' (string, number, or table expected, got nil)



=== TEST 6: set_uri: without jump, $uri changes and the location stays
--- config
    location = /t {
        rewrite_by_lua_block { ngx.req.set_uri("/other") }
        content_by_lua_block { ngx.say(ngx.var.uri, " ", ngx.var.request_uri) }
    }
    location = /other {
        return 404;
    }
--- request
GET /t?a=1
--- response_body
/other /t?a=1



=== TEST 7: set_uri: jump re-finds the location (and its rewrite_by_lua runs)
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.set_uri("/other", true)
            ngx.log(ngx.ERR, "not reached")
        }
    }
    location = /other {
        rewrite_by_lua_block { ngx.ctx.rw = "other rewrite" }
        content_by_lua_block { ngx.say(ngx.var.uri, " ", ngx.ctx.rw) }
    }
--- request
GET /t
--- response_body
/other other rewrite
--- no_error_log
[error]



=== TEST 8: set_uri: jump after a yield
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.sleep(0.01)
            ngx.req.set_uri("/other", true)
        }
    }
    location = /other {
        content_by_lua_block { ngx.say("other ", ngx.var.uri) }
    }
--- request
GET /t
--- response_body
other /other
--- no_error_log
[error]



=== TEST 9: set_uri: jump outside rewrite, unsafe bytes, empty uri, binary
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.req.set_uri, "/a", true)))
            ngx.say(select(2, pcall(ngx.req.set_uri, "/a b\r\n")))
            ngx.say(select(2, pcall(ngx.req.set_uri, "")))
            ngx.say(select(2, pcall(ngx.req.set_uri, "/a", "yes")))
            ngx.req.set_uri("/a b", false, true)
            ngx.say(ngx.var.uri)
        }
    }
--- request
GET /t
--- response_body
API disabled in the context of content_by_lua*
unsafe byte "0x0d" in uri "/a b\x0D\x0A" (maybe you want to set the 'binary' argument?)
attempt to use zero-length uri
bad argument #2 to 'set_uri' (boolean expected, got string)
/a b
--- no_error_log
[error]
