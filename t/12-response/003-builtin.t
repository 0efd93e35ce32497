# ngx.header and nginx's built-in response headers: Cache-Control/Link
# value lists, Last-Modified, Location, Content-Type parameters, in-place
# replacement; ngx.resp.add_header; ngx.resp.get_headers' extra entries.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: builtin headers: Cache-Control and Link are the values nginx's $sent_http_* see
--- config
    location = /t {
        content_by_lua_block {
            ngx.header.cache_control = "private"
            ngx.header.link = { "</a>; rel=preload", "</b>; rel=preload" }
            ngx.say(ngx.var.sent_http_cache_control, "|", ngx.var.sent_http_link)
        }
    }
--- request
GET /t
--- response_headers
Cache-Control: private
--- response_body_like chop
^private\|</a>; rel=preload[,;] </b>; rel=preload$
--- no_error_log
[error]



=== TEST 2: builtin headers: a Cache-Control list replaced by one value, cleared with nil
--- config
    location = /t {
        content_by_lua_block {
            ngx.header.cache_control = { "no-cache", "blah", "foo" }
            ngx.header.cache_control = "max-age=1"
            local one = ngx.var.sent_http_cache_control
            ngx.header["Cache-Control"] = { "a", "b" }
            local two = ngx.var.sent_http_cache_control
            ngx.say(one, "|", two)
            ngx.header.link = "x"
            ngx.header.link = nil
        }
    }
--- request
GET /t
--- response_body_like chop
^max-age=1\|a[,;] b$
--- raw_response_headers_unlike: (?i)\r\n(Link|Cache-Control): (no-cache|blah|foo|x)\r\n



=== TEST 3: ngx.resp.add_header appends to Cache-Control and plain headers, ngx.header replaces in place
--- config
    location = /t {
        content_by_lua_block {
            local resp = require "ngx.resp"
            ngx.header["X-A"] = "1"
            ngx.header["X-B"] = "b"
            resp.add_header("X-A", "2")
            resp.add_header("Cache-Control", "no-store")
            resp.add_header("Cache-Control", { "private", "no-cache" })
            resp.add_header("X-Empty", {})
            ngx.header["X-A"] = "3"
            ngx.say(ngx.var.sent_http_cache_control, " ", tostring(ngx.header["X-A"]))
            ngx.say(select(2, pcall(resp.add_header, "X-C")))
        }
    }
--- request
GET /t
--- raw_response_headers_like eval
qr/\r\nX-A: 3\r\nX-B: b\r\n/
--- response_headers
!X-Empty
--- response_body_like
^no-store[,;] private[,;] no-cache 3
.*invalid header value$
--- no_error_log
[error]



=== TEST 4: Last-Modified set from Lua drives If-Modified-Since (304) and reads back as nginx formats it
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["Last-Modified"] = ngx.http_time(1290079655)
            ngx.say(ngx.header["Last-Modified"])
        }
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["", "If-Modified-Since: Thu, 18 Nov 2010 11:27:35 GMT"]
--- error_code eval
[200, 304]
--- response_headers eval
["Last-Modified: Thu, 18 Nov 2010 11:27:35 GMT", "Last-Modified: Thu, 18 Nov 2010 11:27:35 GMT"]
--- response_body eval
["Thu, 18 Nov 2010 11:27:35 GMT\n", ""]



=== TEST 5: Last-Modified of a static file is readable in the header filter; clearing it removes it
--- config
    location /a.txt {
        header_filter_by_lua_block {
            local lm = ngx.header["Last-Modified"]
            ngx.header["X-Age-Ok"] = ngx.parse_http_time(lm) ~= nil and "yes" or "no"
        }
    }
    location /b.txt {
        header_filter_by_lua_block { ngx.header["Last-Modified"] = nil }
    }
--- user_files
>>> a.txt
Foo
>>> b.txt
Bar
--- request eval
["GET /a.txt", "GET /b.txt"]
--- response_headers eval
["X-Age-Ok: yes", "!Last-Modified"]
--- no_error_log
[error]



=== TEST 6: a relative Location set through ngx.header stays relative
--- config
    location = /t {
        content_by_lua_block {
            ngx.header.location = "/foo/bar"
            return ngx.exit(301)
        }
    }
    location = /abs {
        content_by_lua_block {
            ngx.header.location = "http://example.com/x"
            return ngx.exit(302)
        }
    }
--- request eval
["GET /t", "GET /abs"]
--- error_code eval
[301, 302]
--- raw_response_headers_like eval
[qr{\r\nlocation: /foo/bar\r\n}, qr{\r\nlocation: http://example\.com/x\r\n}]



=== TEST 7: a Content-Type with parameters still matches gzip_types
--- config
    gzip on;
    gzip_min_length 1;
    gzip_types text/html;
    location = /t {
        content_by_lua_block {
            ngx.header["Content-Type"] = "text/html; charset=utf-8"
            ngx.say("test")
        }
    }
--- request
GET /t
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
Content-Type: text/html; charset=utf-8



=== TEST 8: WWW-Authenticate keeps several values
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["WWW-Authenticate"] = { 'Basic realm="a"', 'Bearer realm="b"' }
            ngx.exit(401)
        }
    }
--- request
GET /t
--- error_code: 401
--- raw_response_headers_like eval
qr/WWW-Authenticate: Basic realm="a"\r\nWWW-Authenticate: Bearer realm="b"\r\n/i



=== TEST 9: ngx.resp.get_headers: Transfer-Encoding and Connection as nginx will send them
--- config
    location = /t {
        content_by_lua_block { ngx.say("hi") }
        body_filter_by_lua_block {
            local hs = ngx.resp.get_headers()
            ngx.log(ngx.WARN, "te: ", hs["Transfer-Encoding"], " conn: ", hs.connection)
        }
    }
--- request
GET /t
--- response_body
hi
--- error_log
te: chunked conn: close



=== TEST 10: ngx.resp.get_headers: a keepalive connection, names in lower case even when raw
--- config
    location = /ka {
        content_by_lua_block {
            local hs = ngx.resp.get_headers(nil, true)
            ngx.say(hs["connection"], " ", tostring(hs["Connection"]))
        }
    }
--- request
GET /ka HTTP/1.0
--- more_headers
Connection: keep-alive
--- response_body
keep-alive nil



=== TEST 11: ngx.resp.get_headers: max counts the extra entries, as upstream does
--- config
    location = /t {
        content_by_lua_block {
            for i = 1, 100 do
                ngx.header["Foo" .. i] = "Foo"
            end
            local function count(...)
                local h, err = ngx.resp.get_headers(...)
                local n = 0
                for _ in pairs(h) do n = n + 1 end
                return n .. " " .. tostring(err)
            end
            ngx.say(count(), ", ", count(3), ", ", count(0), ", ", count(102))
        }
    }
--- request
GET /t
--- response_body
100 truncated, 3 truncated, 101 nil, 101 nil
--- log_level: debug
--- error_log
lua exceeding response header limit 101 > 100
