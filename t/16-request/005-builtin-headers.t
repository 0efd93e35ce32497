# ngx.req.set_header and nginx's parsed request fields: Host and $host,
# Connection, and a 400 Bad Request with no header list.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: set_header Host: $host loses the port and is lower-cased, even when already cached
--- config
    location = /t {
        set $cached $host;
        content_by_lua_block {
            ngx.say(ngx.var.host)
            ngx.req.set_header("Host", "AgentZH.org:1984")
            ngx.say(ngx.var.host, " ", ngx.var.http_host)
            ngx.req.set_header("Host", "example.com.")
            ngx.say(ngx.var.host)
        }
    }
--- request
GET /t
--- response_body
localhost
agentzh.org AgentZH.org:1984
example.com
--- no_error_log
[error]



=== TEST 2: set_header Host: a value nginx would refuse fails with upstream's text
--- config
    location = /t {
        content_by_lua_block {
            for _, h in ipairs({ "a..b", "a/b", ":80", "" }) do
                local ok, err = pcall(ngx.req.set_header, "Host", h)
                ngx.say("[", h, "] ", ok, " ", tostring(err))
            end
            ngx.say(ngx.var.http_host, " ", ngx.var.host)
        }
    }
--- request
GET /t
--- response_body
[a..b] false failed to set header
[a/b] false failed to set header
[:80] false failed to set header
[] true nil
 localhost
--- no_error_log
[error]



=== TEST 3: set_header Connection: nginx's keepalive decision follows the tokens in the value
--- config
    location = /t {
        rewrite_by_lua_block { ngx.req.set_header("Connection", "Upgrade, Close") }
        content_by_lua_block { ngx.say("hi") }
    }
--- request
GET /t HTTP/1.1
--- response_headers
Connection: close



=== TEST 4: set_header in an error_page target of a 400 Bad Request is ignored, as upstream
--- config
    error_page 400 = /err;
    location = /err {
        content_by_lua_block {
            ngx.req.set_header("Foo", "bar")
            ngx.req.set_header("Cookie", "foo=bar")
            ngx.req.clear_header("X")
            ngx.say("ok ", tostring(ngx.var.cookie_foo), " ", tostring(ngx.req.get_headers()["foo"]))
        }
    }
--- raw_request
GeT / HTTP/1.1
--- response_body
ok nil nil
--- no_error_log
[error]



=== TEST 7: set_header Content-Length: a value nginx cannot read is refused with upstream's text, so the body is still read by its real length
--- config
    location = /t {
        content_by_lua_block {
            for _, v in ipairs({ "-5", "1e30", "99999999999999999999", " 5", "0x10" }) do
                local ok, err = pcall(ngx.req.set_header, "Content-Length", v)
                ngx.say("[", v, "] ", ok, " ", err)
            end
            ngx.say(ngx.var.http_content_length)
            ngx.req.read_body()
            local body = ngx.req.get_body_data()
            ngx.say("body: ", #body, " ", body:match("^[^\r]*"))
        }
    }
    location = /smuggled {
        content_by_lua_block { ngx.say("smuggled request ran") }
    }
    location = /next {
        content_by_lua_block { ngx.say("next") }
    }
--- pipelined_requests eval
["POST /t\nGET /smuggled HTTP/1.0\r\n\r\n.", "GET /next"]
--- response_body eval
["[-5] false failed to set header
[1e30] false failed to set header
[99999999999999999999] false failed to set header
[ 5] false failed to set header
[0x10] false failed to set header
27
body: 27 GET /smuggled HTTP/1.0
", "next\n"]
--- no_error_log
[error]



=== TEST 8: clear_header and capture re-point nginx's multi-valued fields: every Cookie and X-Forwarded-For line is still seen, in order
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.clear_header("X-Drop")
            ngx.say(ngx.var.cookie_a, " ", ngx.var.cookie_b, " ", ngx.var.cookie_c)
            ngx.say(ngx.var.http_x_forwarded_for)
            ngx.say(ngx.var.http_user_agent)
            local r = ngx.location.capture("/sub")
            ngx.print(r.body)
        }
    }
    location = /sub {
        content_by_lua_block {
            ngx.say("sub: ", ngx.var.cookie_a, " ", ngx.var.cookie_c, " ", ngx.var.http_user_agent)
            ngx.say("sub: ", ngx.var.http_x_forwarded_for, " | ", ngx.var.http_cookie)
        }
    }
--- request
GET /t
--- more_headers
X-Drop: 1
Cookie: a=1; b=2
User-Agent: ua-test
X-Forwarded-For: 10.0.0.1
Cookie: c=3
X-Forwarded-For: 10.0.0.2
--- response_body
1 2 3
10.0.0.1, 10.0.0.2
ua-test
sub: 1 3 ua-test
sub: 10.0.0.1, 10.0.0.2 | a=1; b=2; c=3
--- no_error_log
[error]
