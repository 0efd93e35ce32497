# Response header safety: names and values with CR/LF or other control
# bytes are percent-escaped as upstream does (no response splitting);
# lua_transform_underscores_in_response_headers; ngx.redirect's checks.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: header safety: CR and LF in a value are escaped, no header is injected
--- config
    location = /t {
        content_by_lua_block {
            ngx.header.header = "value\rfoo:bar\nbar:foo"
            ngx.header["X-Crlf"] = "a\r\nSet-Cookie: evil=1"
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_headers
header: value%0Dfoo:bar%0Abar:foo
X-Crlf: a%0D%0ASet-Cookie: evil=1
!foo
!bar
!Set-Cookie
--- response_body
ok
--- no_error_log
[error]



=== TEST 2: header safety: CR, LF, colon, space and separators in a name are escaped
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["header: value\rfoo:bar\nbar:foo"] = "xx"
            ngx.header["\nX-Lead"] = "yy"
            ngx.header["a(b)c/d=e{f}"] = "zz"
            ngx.say("ok")
        }
    }
--- request
GET /t
--- raw_response_headers_like eval
qr/\r\nheader%3A%20value%0Dfoo%3Abar%0Abar%3Afoo: xx\r\n%0AX-Lead: yy\r\na%28b%29c%2Fd%3De%7Bf%7D: zz\r\n/
--- response_headers
!header
!foo
!bar
!X-Lead
--- no_error_log
[error]



=== TEST 3: header safety: every value of a multi-value header is escaped
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["foo"] = { "foo\nxx:bar", "bar\rxxx:foo" }
            ngx.say("ok")
        }
    }
--- request
GET /t
--- raw_response_headers_like chomp
foo: foo%0Axx:bar\r\nfoo: bar%0Dxxx:foo\r\n
--- response_headers
!xx
!xxx



=== TEST 4: header safety: other control bytes and DEL are escaped; tab and UTF-8 in values are kept, not in names
--- config
    location = /t {
        content_by_lua_block {
            ngx.header["X-Ctl"] = "a\0b\1c\31d\127e\tf"
            ngx.header["X-Utf8"] = "caf\xc3\xa9"
            ngx.header["X-Tab\tName\xc3\xa9"] = "v"
            ngx.say(ngx.header["X-Ctl"])
        }
    }
--- request
GET /t
--- raw_response_headers_like eval
qr/\r\nX-Ctl: a%00b%01c%1Fd%7Fe\tf\r\nX-Utf8: caf\xc3\xa9\r\nX-Tab%09Name%C3%A9: v\r\n/
--- response_body
a%00b%01c%1Fd%7Fe	f
--- no_error_log
[error]



=== TEST 5: header safety: Content-Type and Location values are escaped too
--- config
    location = /t {
        content_by_lua_block {
            ngx.header.content_type = "text/plain\r\nX-Injected: 1"
            ngx.header["Location"] = "http://example.com/\r\nX-Injected2: 1"
            ngx.status = 302
            ngx.say("moved")
        }
    }
--- request
GET /t
--- error_code: 302
--- response_headers
Content-Type: text/plain%0D%0AX-Injected: 1
Location: http://example.com/%0D%0AX-Injected2: 1
!X-Injected
!X-Injected2



=== TEST 6: header safety: an invalid Content-Length fails with upstream's text (an empty one clears it)
--- config
    location = /t {
        content_by_lua_block {
            local out = {}
            for _, v in ipairs({ "12abc", "-1", " 5", "", "1\r\n" }) do
                local ok, err = pcall(function() ngx.header["Content-Length"] = v end)
                -- error(msg, 2) names the caller, as upstream's does
                err = tostring(err):gsub("^content_by_lua%(nginx%.conf:%d+%):%d+: ", "")
                out[#out + 1] = "[" .. v:gsub("[\r\n]", ".") .. "] " .. tostring(ok) .. " " .. err
            end
            ngx.header["Content-Length"] = "42"
            out[#out + 1] = ngx.header["Content-Length"]
            ngx.header["Content-Length"] = nil
            ngx.say(table.concat(out, "\n"))
        }
    }
--- request
GET /t
--- response_body
[12abc] false failed to set header
[-1] false failed to set header
[ 5] false failed to set header
[] true nil
[1..] false failed to set header
42



=== TEST 7: header safety: header_filter_by_lua escapes the same way
--- config
    location = /t {
        return 200 "static\n";
        header_filter_by_lua_block {
            ngx.header["X-Filter"] = "x\r\nX-Injected: 1"
        }
    }
--- request
GET /t
--- response_headers
X-Filter: x%0D%0AX-Injected: 1
!X-Injected



=== TEST 8: header safety: ngx.resp.add_header escapes too
--- config
    location = /t {
        content_by_lua_block {
            local resp = require "ngx.resp"
            resp.add_header("X-Add", "one")
            resp.add_header("X-Add", "two\r\nX-Injected: 1")
            ngx.say("ok")
        }
    }
--- request
GET /t
--- raw_response_headers_like chomp
X-Add: one\r\nX-Add: two%0D%0AX-Injected: 1\r\n
--- response_headers
!X-Injected



=== TEST 9: lua_transform_underscores_in_response_headers on (the default): foo_bar is sent as foo-bar and found by either name
--- config
    location = /t {
        content_by_lua_block {
            ngx.header.foo_bar = "Hello"
            ngx.say(ngx.header.foo_bar, " ", ngx.header["foo-bar"])
        }
    }
--- request
GET /t
--- raw_response_headers_like chomp
\r\nfoo-bar: Hello\r\n
--- response_body
Hello Hello



=== TEST 10: lua_transform_underscores_in_response_headers off: underscores are kept when setting and reading
--- config
    lua_transform_underscores_in_response_headers off;
    location = /t {
        content_by_lua_block {
            ngx.header.foo_bar = "Hello"
            ngx.say(ngx.header.foo_bar, " ", ngx.header["foo-bar"])
        }
    }
--- request
GET /t
--- raw_response_headers_like chomp
\r\nfoo_bar: Hello\r\n
--- response_body
Hello nil



=== TEST 11: lua_transform_underscores_in_response_headers: per location, and invalid values fail
--- config
    lua_transform_underscores_in_response_headers off;
    location = /t {
        lua_transform_underscores_in_response_headers on;
        content_by_lua_block { ngx.header.x_y = "1" ngx.say("ok") }
    }
--- request
GET /t
--- response_headers
x-y: 1



=== TEST 12: lua_transform_underscores_in_response_headers: a bad value fails at nginx -t
--- config
    location = /t {
        lua_transform_underscores_in_response_headers maybe;
        content_by_lua_block { ngx.say(1) }
    }
--- must_die
--- error_log
invalid value "maybe", it must be "on" or "off"



=== TEST 13: ngx.redirect: CR, LF and other control bytes are refused with upstream's text
--- config
    location = /t {
        content_by_lua_block {
            for _, u in ipairs({
                "http://agentzh.org/foo\rfoo:bar\nbar:foo",
                "http://agentzh.org/foo\nfoo:bar\rbar:foo",
                "\nfoo:http://agentzh.org/foo",
                "\rhttp\\://\"agentzh.org\"/foo",
                "/a\0b",
                "/a\127",
            }) do
                local ok, err = pcall(ngx.redirect, u)
                ngx.ctx[#ngx.ctx + 1] = err
            end
            ngx.say(table.concat(ngx.ctx, "\n"))
        }
    }
--- request
GET /t
--- response_body
unsafe byte "0x0d" in redirect uri "http://agentzh.org/foo\x0Dfoo:bar\x0Abar:foo"
unsafe byte "0x0a" in redirect uri "http://agentzh.org/foo\x0Afoo:bar\x0Dbar:foo"
unsafe byte "0x0a" in redirect uri "\x0Afoo:http://agentzh.org/foo"
unsafe byte "0x0d" in redirect uri "\x0Dhttp\x5C://\x22agentzh.org\x22/foo"
unsafe byte "0x00" in redirect uri "/a\x00b"
unsafe byte "0x7f" in redirect uri "/a\x7F"
--- no_error_log
[error]



=== TEST 14: ngx.redirect: a tab is allowed (as upstream), a relative target stays relative
--- config
    location = /tab {
        content_by_lua_block { ngx.redirect("/a\tb") }
    }
    location = /rel {
        content_by_lua_block { ngx.redirect("/foo?a=1", 301) }
    }
--- request eval
["GET /tab", "GET /rel"]
--- error_code eval
[302, 301]
--- raw_response_headers_like eval
["\r\nLocation: /a\tb\r\n", "\r\nLocation: /foo\\?a=1\r\n"]
