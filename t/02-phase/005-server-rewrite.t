# server_rewrite_by_lua_block / server_rewrite_by_lua_file: where they may
# appear, when they run (before a location is chosen, before the rewrite
# module's server-level directives, again after an internal redirect and in
# subrequests) and how the handler ends the request or lets it go on.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: server_rewrite_by_lua_block: http level, ngx.ctx reaches the content handler
--- http_config
    server_rewrite_by_lua_block {
        ngx.ctx.seen = ngx.get_phase() .. " " .. ngx.var.uri
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say(ngx.ctx.seen) }
    }
--- request
GET /t
--- response_body
server_rewrite /t
--- no_error_log
[error]



=== TEST 2: server_rewrite_by_lua_block: the server's handler replaces the http one
--- http_config
    server_rewrite_by_lua_block { ngx.ctx.who = "http" }
--- config
    server_rewrite_by_lua_block { ngx.ctx.who = "server" }
    location = /t {
        content_by_lua_block { ngx.say(ngx.ctx.who) }
    }
--- request
GET /t
--- response_body
server
--- no_error_log
[error]



=== TEST 3: server_rewrite_by_lua_block: runs before nginx's server-level set and rewrite
--- config
    server_rewrite_by_lua_block {
        ngx.ctx.seen = "uri=" .. ngx.var.uri .. " x=" .. tostring(ngx.var.x)
    }
    set $x "from-set";
    rewrite ^/t$ /re;
    location = /re {
        content_by_lua_block { ngx.say(ngx.ctx.seen, " now=", ngx.var.uri, " x=", ngx.var.x) }
    }
--- request
GET /t
--- response_body
uri=/t x= now=/re x=from-set
--- no_error_log
[error]



=== TEST 4: server_rewrite_by_lua_block: ngx.req.set_uri(uri, true) chooses the location
--- config
    server_rewrite_by_lua_block {
        if ngx.var.uri ~= "/bar" then
            ngx.req.set_uri_args("hello")
            ngx.req.set_uri("/bar", true)
            ngx.log(ngx.ERR, "not reached")
        end
    }
    location = /bar {
        content_by_lua_block { ngx.say("bar: ", ngx.var.uri, "?", ngx.var.args) }
    }
    location = /foo {
        content_by_lua_block { ngx.say("foo") }
    }
--- request
GET /foo?world
--- response_body
bar: /bar?hello
--- no_error_log
[error]



=== TEST 5: server_rewrite_by_lua_block: set_uri jump after a yield, then a location rewrite handler
--- config
    server_rewrite_by_lua_block {
        if ngx.var.uri == "/foo" then
            ngx.sleep(0.001)
            ngx.req.set_uri("/bar", true)
        end
    }
    location = /bar {
        rewrite_by_lua_block {
            ngx.ctx.n = (ngx.ctx.n or 0) + 1
            ngx.sleep(0.001)
        }
        content_by_lua_block { ngx.say("bar, rewrite ran ", ngx.ctx.n, " time(s)") }
    }
--- request
GET /foo
--- response_body
bar, rewrite ran 1 time(s)
--- no_error_log
[error]



=== TEST 6: server_rewrite_by_lua_block: yields (ngx.sleep, light threads), then the request goes on
--- config
    server_rewrite_by_lua_block {
        local t = ngx.thread.spawn(function()
            ngx.sleep(0.01)
            return "thread"
        end)
        ngx.sleep(0.001)
        local ok, v = ngx.thread.wait(t)
        ngx.ctx.v = v
    }
    location = /t {
        content_by_lua_block { ngx.say(ngx.ctx.v) }
    }
--- request
GET /t
--- response_body
thread
--- no_error_log
[error]



=== TEST 7: server_rewrite_by_lua_block: a cosocket round trip
--- config
    server_rewrite_by_lua_block {
        local sock = ngx.socket.tcp()
        assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        assert(sock:send("ping\r\n"))
        ngx.ctx.line = assert(sock:receive())
        sock:close()
    }
    location = /t {
        content_by_lua_block { ngx.say("got ", ngx.ctx.line) }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_query eval
"ping\r\n"
--- tcp_reply eval
"pong\r\n"
--- request
GET /t
--- response_body
got pong
--- no_error_log
[error]



=== TEST 8: server_rewrite_by_lua_block: ngx.req.read_body waits for the body
--- config
    server_rewrite_by_lua_block {
        ngx.req.read_body()
        ngx.ctx.body = ngx.req.get_body_data()
    }
    location = /t {
        content_by_lua_block { ngx.say("body: ", ngx.ctx.body) }
    }
--- request
POST /t
hello, world
--- response_body
body: hello, world
--- no_error_log
[error]



=== TEST 9: server_rewrite_by_lua_block: ngx.exit(503) ends the request, no location runs
--- config
    server_rewrite_by_lua_block { ngx.exit(503) }
    location = /t {
        content_by_lua_block { ngx.log(ngx.ERR, "content ran") }
    }
--- request
GET /t
--- error_code: 503
--- response_body_like: 503 Service
--- no_error_log
content ran



=== TEST 10: server_rewrite_by_lua_block: ngx.exit(ngx.OK) after a yield lets the request go on
--- config
    server_rewrite_by_lua_block {
        ngx.sleep(0.001)
        ngx.ctx.a = 1
        ngx.exit(ngx.OK)
        ngx.ctx.a = 2
    }
    location = /t {
        content_by_lua_block { ngx.say("a=", ngx.ctx.a) }
    }
--- request
GET /t
--- response_body
a=1
--- no_error_log
[error]



=== TEST 11: server_rewrite_by_lua_block: output without ngx.exit ends the request
--- config
    server_rewrite_by_lua_block {
        ngx.say("from server rewrite")
        ngx.flush(true)
    }
    location = /t {
        content_by_lua_block { ngx.log(ngx.ERR, "content ran") }
    }
--- request
GET /t
--- response_body
from server rewrite
--- no_error_log
content ran
[error]



=== TEST 12: server_rewrite_by_lua_block: headers only (ngx.send_headers), then eof
--- config
    server_rewrite_by_lua_block {
        ngx.status = 201
        ngx.header["X-Foo"] = { "a", "b" }
        ngx.send_headers()
        ngx.eof()
    }
    location = /t {
        content_by_lua_block { ngx.say("not sent") }
    }
--- request
GET /t
--- error_code: 201
--- response_headers
X-Foo: a, b
--- response_body
--- no_error_log
[error]



=== TEST 13: server_rewrite_by_lua_block: ngx.exec runs the server rewrite handler again for the new URI
--- config
    server_rewrite_by_lua_block {
        ngx.log(ngx.WARN, "server rewrite for ", ngx.var.uri)
        if ngx.var.uri ~= "/ok" then
            ngx.exec("/ok", "a=1")
        end
    }
    location = /ok {
        content_by_lua_block { ngx.say("ok ", ngx.var.args) }
    }
--- request
GET /lua
--- response_body
ok a=1
--- error_log
server rewrite for /lua
server rewrite for /ok
--- no_error_log
[error]



=== TEST 14: server_rewrite_by_lua_block: ngx.redirect
--- config
    server_rewrite_by_lua_block { ngx.redirect("/foo", 301) }
--- request
GET /t
--- error_code: 301
--- response_headers
Location: /foo
--- no_error_log
[error]



=== TEST 15: server_rewrite_by_lua_block: runs in subrequests too
--- config
    server_rewrite_by_lua_block {
        ngx.log(ngx.WARN, "server rewrite, subrequest: ", ngx.is_subrequest, " uri: ", ngx.var.uri)
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/sub")
            ngx.print(res.body)
        }
    }
    location = /sub {
        content_by_lua_block { ngx.say("sub") }
    }
--- request
GET /t
--- response_body
sub
--- error_log
server rewrite, subrequest: false uri: /t
server rewrite, subrequest: true uri: /sub
--- no_error_log
[error]



=== TEST 16: server_rewrite_by_lua_block: a runtime error gives 500 and a logged traceback
--- config
    server_rewrite_by_lua_block { error("boom") }
    location = /t {
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/lua entry thread aborted: runtime error: server_rewrite_by_lua\(nginx\.conf:\d+\):1: boom/



=== TEST 17: server_rewrite_by_lua_file
--- config
    server_rewrite_by_lua_file html/srw.lua;
    location = /t {
        content_by_lua_block { ngx.say(ngx.ctx.from_file) }
    }
--- user_files
>>> srw.lua
ngx.ctx.from_file = "file says " .. ngx.get_phase()
--- request
GET /t
--- response_body
file says server_rewrite
--- no_error_log
[error]



=== TEST 18: server_rewrite_by_lua_file: a missing file gives 404, as upstream
--- config
    server_rewrite_by_lua_file html/missing.lua;
    location = /t {
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 404
--- error_log
missing.lua



=== TEST 19: server_rewrite_by_lua_block is not allowed in a location
--- config
    location = /t {
        server_rewrite_by_lua_block { ngx.exit(200) }
    }
--- request
GET /t
--- must_die
--- error_log
"server_rewrite_by_lua_block" directive is not allowed here



=== TEST 20: server_rewrite_by_lua_file is not allowed in a location
--- config
    location = /t {
        server_rewrite_by_lua_file html/a.lua;
    }
--- request
GET /t
--- must_die
--- error_log
"server_rewrite_by_lua_file" directive is not allowed here



=== TEST 21: there is no inline-string server_rewrite_by_lua form
--- config
    server_rewrite_by_lua 'ngx.exit(200)';
--- request
GET /t
--- must_die
--- error_log
unknown directive "server_rewrite_by_lua"



=== TEST 22: server_rewrite_by_lua_block twice in one server
--- config
    server_rewrite_by_lua_block { ngx.exit(200) }
    server_rewrite_by_lua_block { ngx.exit(201) }
--- request
GET /t
--- must_die
--- error_log
"server_rewrite_by_lua_block" directive is duplicate



=== TEST 23: server_rewrite_by_lua_block: a syntax error is logged when the code is loaded, 500
--- config
    server_rewrite_by_lua_block {
        'for end';
    }
    location = /t {
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/failed to load inlined Lua code: server_rewrite_by_lua\(nginx\.conf:\d+\):2: unexpected symbol near ''for end''/



=== TEST 24: server_rewrite_by_lua_block: lua_need_request_body at server level
--- config
    lua_need_request_body on;
    server_rewrite_by_lua_block { ngx.ctx.body = ngx.req.get_body_data() }
    location = /t {
        content_by_lua_block { ngx.say("body: ", ngx.ctx.body) }
    }
--- request
POST /t
abc
--- response_body
body: abc
--- no_error_log
[error]



=== TEST 25: server_rewrite_by_lua_block: yields in a captured subrequest, and ends it with ngx.exit
--- config
    server_rewrite_by_lua_block {
        if ngx.is_subrequest then
            ngx.sleep(0.001)
            if ngx.var.uri == "/gone" then
                ngx.exit(410)
            end
            ngx.ctx.slept = true
        end
    }
    location = /t {
        content_by_lua_block {
            local a, b = ngx.location.capture_multi({ { "/sub" }, { "/gone" } })
            ngx.say(a.status, " ", a.body, b.status)
        }
    }
    location = /sub {
        content_by_lua_block { ngx.print("slept=", ngx.ctx.slept, " ") }
    }
--- request
GET /t
--- response_body
200 slept=true 410
--- no_error_log
[error]
