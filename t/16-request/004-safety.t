# Request safety: ngx.req.set_header, set_uri_args and set_uri cannot
# inject headers or split the request line of a proxied request.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: set_header: the proxied request carries escaped names and values only
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.set_header("X-Evil", "a\r\nX-Injected: 1")
            ngx.req.set_header("X-Ctl", "a\0b\1c\127d\te")
            ngx.req.set_header("X-Multi", { "one\nTwo: 2", "three" })
            ngx.req.set_header("Foo\r", "123\r\n")
            ngx.req.set_header("A:B C", "v")
        }
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back {
        content_by_lua_block {
            local raw = ngx.req.raw_header(true)
            for line in raw:gmatch("[^\r\n]+") do
                if not line:find("^Host") and not line:find("^Connection") then
                    ngx.say(line)
                end
            end
        }
    }
--- request
GET /t
--- response_body
X-Evil: a%0D%0AX-Injected: 1
X-Ctl: a%00b%01c%7Fd	e
X-Multi: one%0ATwo: 2
X-Multi: three
Foo%0D: 123%0D%0A
A%3AB%20C: v
--- no_error_log
[error]



=== TEST 2: set_header: escaped values are what get_headers reads back
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.set_header("X-A", "1\r\n2")
            ngx.req.set_header("Host", "example.com\r\nX-Injected: 1")
            local h = ngx.req.get_headers()
            ngx.say(h["x-a"], " ", h["host"], " ", ngx.var.http_x_a, " ", tostring(h["x-injected"]))
        }
    }
--- request
GET /t
--- response_body
1%0D%0A2 example.com%0D%0AX-Injected: 1 1%0D%0A2 nil
--- no_error_log
[error]



=== TEST 3: set_uri_args: controls and spaces in a string are escaped, so the request line cannot be split
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.set_uri_args("a=1 HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /x?b=\0\127")
        }
        # With variables the URI goes out as written: the args unescaped.
        proxy_pass http://127.0.0.1:$server_port/back$is_args$args;
    }
    location = /back {
        content_by_lua_block {
            ngx.say(ngx.var.request_uri)
            ngx.say(tostring(ngx.req.get_headers()["x-injected"]))
            ngx.say((ngx.req.get_uri_args().a:gsub("%c", ".")))
        }
    }
--- request
GET /t
--- response_body
/back?a=1%20HTTP/1.1%0D%0AX-Injected:%201%0D%0A%0D%0AGET%20/x?b=%00%7F
nil
1 HTTP/1.1..X-Injected: 1....GET /x?b=..
--- no_error_log
[error]



=== TEST 4: set_uri_args: tables and numbers are encoded safely as well
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.set_uri_args({ a = "x\r\ny" })
            ngx.say(ngx.var.args)
            ngx.req.set_uri_args({ ["b c"] = "1" })
            ngx.say(ngx.var.args)
            ngx.req.set_uri_args(42)
            ngx.say(ngx.var.args)
            ngx.req.set_uri_args("k=%20&tab=\t")
            ngx.say(ngx.var.args)
        }
    }
--- request
GET /t
--- response_body
a=x%0D%0Ay
b%20c=1
42
k=%20&tab=%09



=== TEST 5: set_uri: CR/LF and other controls are refused without binary; a tab or space is accepted
--- config
    location = /t {
        content_by_lua_block {
            for _, u in ipairs({ "/a\r\nX: 1", "/a\nb", "/\0", "/a\127" }) do
                local ok, err = pcall(ngx.req.set_uri, u)
                ngx.say(err)
            end
            ngx.req.set_uri("/a b\tc")
            ngx.say("[", ngx.var.uri, "]")
            ngx.req.set_uri("/bin\r\n", false, true)
            ngx.say(#ngx.var.uri)
        }
    }
--- request
GET /t
--- response_body
unsafe byte "0x0d" in uri "/a\x0D\x0AX: 1" (maybe you want to set the 'binary' argument?)
unsafe byte "0x0a" in uri "/a\x0Ab" (maybe you want to set the 'binary' argument?)
unsafe byte "0x00" in uri "/\x00" (maybe you want to set the 'binary' argument?)
unsafe byte "0x7f" in uri "/a\x7F" (maybe you want to set the 'binary' argument?)
[/a b	c]
6
--- no_error_log
[error]



=== TEST 6: set_uri with binary: a proxied request gets the URI escaped by nginx, not split
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.set_uri("/back\r\nX-Injected: 1", false, true)
        }
        proxy_pass http://127.0.0.1:$server_port;
    }
    location /back {
        content_by_lua_block {
            ngx.say(ngx.var.request_uri)
            ngx.say(tostring(ngx.req.get_headers()["x-injected"]))
        }
    }
--- request
GET /t
--- response_body
/back%0D%0AX-Injected:%201
nil
--- no_error_log
[error]
