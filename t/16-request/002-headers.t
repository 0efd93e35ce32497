# ngx.req.get_headers / set_header / clear_header.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: get_headers: lower-cased keys, normalizing __index, repeated headers
--- config
    location = /t {
        content_by_lua_block {
            local h = ngx.req.get_headers()
            ngx.say(h["x-foo"], " ", h.X_Foo, " ", h["X-FOO"])
            ngx.say(type(h["x-multi"]), " ", table.concat(h["x-multi"], ","))
            ngx.say(h.host)
        }
    }
--- request
GET /t
--- more_headers
X-Foo: bar
X-Multi: 1
X-Multi: 2
--- response_body
bar bar bar
table 1,2
localhost
--- no_error_log
[error]



=== TEST 2: get_headers: raw keeps the case and has no metatable
--- config
    location = /t {
        content_by_lua_block {
            local h = ngx.req.get_headers(nil, true)
            ngx.say(h["X-Foo"], " ", h["x-foo"], " ", getmetatable(h))
        }
    }
--- request
GET /t
--- more_headers
X-Foo: bar
--- response_body
bar nil nil



=== TEST 3: get_headers: default limit 100 and "truncated"
--- config
    location = /t {
        content_by_lua_block {
            local h, err = ngx.req.get_headers()
            local n = 0
            for _ in pairs(h) do n = n + 1 end
            ngx.say(n, " ", err)
            h, err = ngx.req.get_headers(3)
            n = 0
            for _ in pairs(h) do n = n + 1 end
            ngx.say(n, " ", err)
            h, err = ngx.req.get_headers(0)
            n = 0
            for _ in pairs(h) do n = n + 1 end
            ngx.say(n, " ", err)
        }
    }
--- request
GET /t
--- more_headers eval
CORE::join "", map { "X-H$_: $_\r\n" } 1..105
--- response_body
100 truncated
3 truncated
107 nil
--- no_error_log
[error]



=== TEST 4: get_headers: bad max
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.req.get_headers, "x")))
        }
    }
--- request
GET /t
--- response_body
bad argument #1 to 'get_headers' (number expected, got string)



=== TEST 5: set_header: replace, add multiple, clear; visible to ngx.var
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.set_header("X-Foo", "new")
            ngx.req.set_header("X-List", { "a", "b" })
            ngx.req.clear_header("X-Gone")
            ngx.req.set_header("X-Num", 42)
            local h = ngx.req.get_headers()
            ngx.say(h["x-foo"], " ", table.concat(h["x-list"], ","), " ",
                    h["x-gone"], " ", h["x-num"], " ", ngx.var.http_x_foo)
        }
    }
--- request
GET /t
--- more_headers
X-Foo: old
X-Gone: 1
--- response_body
new a,b nil 42 new
--- no_error_log
[error]



=== TEST 6: set_header: Host changes $host, User-Agent and Cookie update nginx's fields
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.set_header("Host", "example.org")
            ngx.req.set_header("User-Agent", "Mozilla/4.0 (compatible; MSIE 6.0)")
            ngx.req.set_header("Cookie", { "a=1", "b=2" })
        }
        content_by_lua_block {
            ngx.say(ngx.var.host, " ", ngx.var.http_host, " ", ngx.var.http_user_agent)
            ngx.say(ngx.var.cookie_a, " ", ngx.var.cookie_b, " ", ngx.var.http_cookie)
        }
    }
--- request
GET /t
--- response_body
example.org example.org Mozilla/4.0 (compatible; MSIE 6.0)
1 2 a=1; b=2
--- no_error_log
[error]



=== TEST 7: set_header: forwarded by proxy_pass, cleared ones are not
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.set_header("X-Added", "yes")
            ngx.req.clear_header("X-Secret")
        }
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back {
        content_by_lua_block {
            local h = ngx.req.get_headers()
            ngx.say(h["x-added"], " ", h["x-secret"], " ", h["x-kept"])
        }
    }
--- request
GET /t
--- more_headers
X-Secret: s
X-Kept: k
--- response_body
yes nil k
--- no_error_log
[error]



=== TEST 8: set_header: CR/LF in names and values are escaped, not injected
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.set_header("X-Evil", "a\r\nX-Injected: 1")
            ngx.req.set_header("X-Bad Name\r\n", "v")
            for k in pairs(ngx.req.get_headers(nil, true)) do
                if k:find("Bad", 1, true) then ngx.req.set_header("X-Name", k) end
            end
        }
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back {
        content_by_lua_block {
            local h = ngx.req.get_headers()
            ngx.say(h["x-evil"], "|", h["x-injected"], "|", h["x-name"])
        }
    }
--- request
GET /t
--- response_body
a%0D%0AX-Injected: 1|nil|X-Bad%20Name%0D%0A
--- no_error_log
[error]



=== TEST 9: set_header: a nil name fails with upstream's text, other values are tostring()'d, log_by_lua may use it
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.req.set_header, nil, "x")))
            ngx.req.set_header(12, true)
            ngx.req.set_header("X-T", {})
            ngx.req.clear_header(12)
            ngx.req.set_header("X-N", { 1, false })
            local h = ngx.req.get_headers()
            ngx.say(tostring(h["12"]), " ", tostring(h["x-t"]), " ", table.concat(h["x-n"], ","))
        }
        log_by_lua_block {
            ngx.req.set_header("X-Log", "y")
            ngx.log(ngx.WARN, "log: ", ngx.req.get_headers()["x-log"])
        }
    }
--- request
GET /t
--- more_headers
X-T: gone
--- response_body
bad 'name' argument: string expected, got nil
nil nil 1,false
--- error_log
log: y



=== TEST 10: ngx.req module: add_header appends, argument errors
--- config
    location = /t {
        content_by_lua_block {
            local req = require "ngx.req"
            req.add_header("X-A", "2")
            req.add_header("X-A", { "3", 4 })
            req.add_header("X-New", "n\r\nX-Injected: 1")
            local h = ngx.req.get_headers()
            ngx.say(table.concat(h["x-a"], ","), " ", h["x-new"], " ", tostring(h["x-injected"]))
            ngx.say(select(2, pcall(req.add_header, "X-B")))
            ngx.say(select(2, pcall(req.add_header, "X-B", {})))
            ngx.say(select(2, pcall(req.add_header, nil, "v")))
        }
    }
--- request
GET /t
--- more_headers
X-A: 1
--- response_body
1,2,3,4 n%0D%0AX-Injected: 1 nil
bad 'value' argument: string or table expected, got nil
bad 'value' argument: non-empty table expected
bad 'name' argument: string expected, got nil
--- no_error_log
[error]



=== TEST 11: clear_header: removing a header keeps the others intact
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.clear_header("X-A")
            ngx.say(ngx.var.http_x_b, " ", ngx.var.http_user_agent, " ", ngx.var.http_x_a)
        }
    }
--- request
GET /t
--- more_headers
X-A: 1
X-B: 2
User-Agent: ua
--- response_body
2 ua nil



=== TEST 12: ngx.req.get_headers: a number key finds the header of that name; a name with underscores is looked up as given first
--- config
    underscores_in_headers on;
    location = /t {
        content_by_lua_block {
            local req = require "ngx.req"
            req.add_header(123, 456)
            req.add_header(123, 789)
            local h = ngx.req.get_headers()
            ngx.say("123: [", table.concat(h[123], ", "), "]")
            ngx.say(h.X_Under, " ", h["x-dash"], " ", h.X_Dash)
        }
    }
--- request
GET /t
--- more_headers
X_Under: u
X-Dash: d
--- response_body
123: [456, 789]
u d d
--- no_error_log
[error]
