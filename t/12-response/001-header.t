# ngx.header (basic set/get/clear). The full response API: issue 4.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: header: set, underscores become hyphens, read back
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["X-Foo"] = "bar"
            ngx.header.x_baz = 42
            ngx.say(ngx.header["x-foo"], " ", ngx.header.X_Baz)
        }
    }
--- request
GET /t
--- response_headers
X-Foo: bar
X-Baz: 42
--- response_body
bar 42



=== TEST 2: header: multiple values and override
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["Set-Cookie"] = { "a=1", "b=2" }
            local t = ngx.header["Set-Cookie"]
            ngx.header["X-One"] = "first"
            ngx.header["X-One"] = "second"
            ngx.say(#t, " ", t[1], " ", t[2], " ", ngx.header["X-One"])
        }
    }
--- request
GET /t
--- raw_response_headers_like: Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n
--- response_body
2 a=1 b=2 second



=== TEST 3: header: clearing with nil
--- config
    location = /t {
        add_header X-Static yes;
        content_by_lua_block {
            ngx.header["X-Gone"] = "x"
            ngx.header["X-Gone"] = nil
            ngx.say(ngx.header["X-Gone"])
        }
    }
--- request
GET /t
--- response_headers
!X-Gone
--- response_body
nil



=== TEST 4: header: Content-Type and Content-Length
--- config
    location = /t {
        content_by_lua_block {
            ngx.header.content_type = "application/json"
            ngx.header["Content-Length"] = 3
            ngx.print("{}\n")
        }
    }
--- request
GET /t
--- response_headers
Content-Type: application/json
Content-Length: 3
--- response_body
{}



=== TEST 5: header: rewriting a static response in the header filter
--- config
    location = /t {
        return 200 "static\n";
        header_filter_by_lua_block {
            ngx.header["X-Powered-By"] = "ngx-lua-rs"
            ngx.header["Server"] = "custom"
        }
    }
--- request
GET /t
--- response_headers
X-Powered-By: ngx-lua-rs
Server: custom



=== TEST 6: header: setting after the header went out logs an error
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("sent")
            ngx.header["X-Late"] = "no"
        }
    }
--- request
GET /t
--- response_headers
!X-Late
--- error_log
attempt to set ngx.header.HEADER after sending out response headers



=== TEST 7: header: CR/LF in a value is escaped, not refused (more in 002-safety.t)
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(function() ngx.header["X-Bad"] = "a\r\nb: c" end)
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_headers
X-Bad: a%0D%0Ab: c
!b
--- response_body
true nil



=== TEST 8: header: setting one header many times keeps one list element
--- config
    location = /t {
        content_by_lua_block {
            for i = 1, 1000 do
                ngx.header["X-Count"] = i
            end
            local n = 0
            for k in pairs(ngx.resp.get_headers(0, true)) do
                if k:lower() == "x-count" then n = n + 1 end
            end
            local v = ngx.resp.get_headers(0, true)["X-Count"]
            ngx.say(ngx.header["X-Count"], " ", n, " ", type(v))
        }
    }
--- request
GET /t
--- response_headers
X-Count: 1000
--- response_body
1000 1 string
