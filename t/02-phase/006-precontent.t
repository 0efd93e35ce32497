# precontent_by_lua_block / precontent_by_lua_file: where they may appear,
# when they run (after try_files unless precontent_by_lua_no_postpone is
# on), yields, and how the handler ends the request or lets it go on.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: precontent_by_lua_block: runs between access and content, shares ngx.ctx
--- config
    location = /t {
        rewrite_by_lua_block { ngx.ctx.p = { ngx.get_phase() } }
        access_by_lua_block { table.insert(ngx.ctx.p, ngx.get_phase()) }
        precontent_by_lua_block { table.insert(ngx.ctx.p, ngx.get_phase()) }
        content_by_lua_block {
            table.insert(ngx.ctx.p, ngx.get_phase())
            ngx.say(table.concat(ngx.ctx.p, ","))
        }
    }
--- request
GET /t
--- response_body
rewrite,access,precontent,content
--- no_error_log
[error]



=== TEST 2: precontent_by_lua_block: runs after try_files (in the location try_files picks)
--- config
    location = /t {
        try_files /no-such-file @fallback;
        precontent_by_lua_block { ngx.log(ngx.ERR, "precontent of /t ran") }
        content_by_lua_block { ngx.say("original") }
    }
    location @fallback {
        precontent_by_lua_block { ngx.ctx.p = ngx.get_phase() }
        content_by_lua_block { ngx.say("fallback, ", ngx.ctx.p) }
    }
--- request
GET /t
--- response_body
fallback, precontent
--- no_error_log
precontent of /t ran
[error]



=== TEST 3: precontent_by_lua_block: try_files that finds the file, then a static response
--- config
    location = /t {
        try_files /here.txt =404;
        precontent_by_lua_block { ngx.header["X-Pre"] = ngx.var.uri }
    }
--- user_files
>>> here.txt
static
--- request
GET /t
--- response_headers
X-Pre: /here.txt
--- response_body
static
--- no_error_log
[error]



=== TEST 4: precontent_by_lua_block: yields (sleep, light thread), then the content handler runs
--- config
    location = /t {
        precontent_by_lua_block {
            local t = ngx.thread.spawn(function() ngx.sleep(0.005) return "t" end)
            ngx.sleep(0.001)
            local _, v = ngx.thread.wait(t)
            ngx.ctx.v = v
        }
        content_by_lua_block { ngx.say("after yield: ", ngx.ctx.v) }
    }
--- request
GET /t
--- response_body
after yield: t
--- no_error_log
[error]



=== TEST 5: precontent_by_lua_block: a cosocket round trip
--- config
    location = /t {
        precontent_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:send("ping\r\n"))
            ngx.ctx.line = assert(sock:receive())
            sock:setkeepalive()
        }
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



=== TEST 6: precontent_by_lua_block: ngx.req.read_body
--- config
    location = /t {
        precontent_by_lua_block {
            ngx.req.read_body()
            ngx.ctx.body = ngx.req.get_body_data()
        }
        content_by_lua_block { ngx.say("body: ", ngx.ctx.body) }
    }
--- request
POST /t
hello
--- response_body
body: hello
--- no_error_log
[error]



=== TEST 7: precontent_by_lua_block: ngx.exit(403) ends the request
--- config
    location = /t {
        precontent_by_lua_block { ngx.exit(403) }
        content_by_lua_block { ngx.log(ngx.ERR, "content ran") }
    }
--- request
GET /t
--- error_code: 403
--- no_error_log
content ran



=== TEST 8: precontent_by_lua_block: ngx.exit(ngx.OK) lets the content handler run
--- config
    location = /t {
        precontent_by_lua_block { ngx.ctx.a = 1 ngx.exit(ngx.OK) ngx.ctx.a = 2 }
        content_by_lua_block { ngx.say("a=", ngx.ctx.a) }
    }
--- request
GET /t
--- response_body
a=1
--- no_error_log
[error]



=== TEST 9: precontent_by_lua_block: output without ngx.exit ends the request
--- config
    location = /t {
        precontent_by_lua_block { ngx.sleep(0.001) ngx.say("from precontent") }
        content_by_lua_block { ngx.log(ngx.ERR, "content ran") }
    }
--- request
GET /t
--- response_body
from precontent
--- no_error_log
content ran
[error]



=== TEST 10: precontent_by_lua_block: ngx.exec and ngx.redirect
--- config
    location = /t {
        precontent_by_lua_block {
            if ngx.var.arg_r then
                ngx.redirect("/elsewhere")
            end
            ngx.exec("/target", "from=pre")
        }
    }
    location = /target {
        content_by_lua_block { ngx.say("target ", ngx.var.args) }
    }
--- request eval
["GET /t", "GET /t?r=1"]
--- error_code eval
[200, 302]
--- response_body_like eval
["^target from=pre\n\$", "302 Found"]
--- no_error_log
[error]



=== TEST 11: precontent_by_lua_block: http and server level handlers are inherited, a location's own wins
--- http_config
    precontent_by_lua_block { ngx.ctx.who = "http" }
--- config
    location = /a {
        content_by_lua_block { ngx.say(ngx.ctx.who) }
    }
    location = /b {
        precontent_by_lua_block { ngx.ctx.who = "location" }
        content_by_lua_block { ngx.say(ngx.ctx.who) }
    }
--- request eval
["GET /a", "GET /b"]
--- response_body eval
["http\n", "location\n"]
--- no_error_log
[error]



=== TEST 12: precontent_by_lua_block: allowed in a location "if" block
--- config
    location = /t {
        if ($arg_x) {
            precontent_by_lua_block { ngx.ctx.p = "in if" }
        }
        content_by_lua_block { ngx.say(ngx.ctx.p) }
    }
--- request
GET /t?x=1
--- response_body
in if
--- no_error_log
[error]



=== TEST 13: precontent_by_lua_file
--- config
    location = /t {
        precontent_by_lua_file html/pre.lua;
        content_by_lua_block { ngx.say(ngx.ctx.f) }
    }
--- user_files
>>> pre.lua
ngx.ctx.f = "file: " .. ngx.get_phase()
--- request
GET /t
--- response_body
file: precontent
--- no_error_log
[error]



=== TEST 14: precontent_by_lua_block: a runtime error gives 500
--- config
    location = /t {
        precontent_by_lua_block { local t = nil; t.x = 1 }
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/lua entry thread aborted: runtime error: precontent_by_lua\(nginx\.conf:\d+\):1: attempt to index local 't'/



=== TEST 15: precontent_by_lua_block is not allowed outside http
--- main_config
    precontent_by_lua_block { ngx.exit(200) }
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- must_die
--- error_log
"precontent_by_lua_block" directive is not allowed here



=== TEST 16: there is no inline-string precontent_by_lua form
--- config
    location = /t {
        precontent_by_lua 'ngx.exit(200)';
    }
--- request
GET /t
--- must_die
--- error_log
unknown directive "precontent_by_lua"



=== TEST 17: precontent_by_lua_block twice in one location
--- config
    location = /t {
        precontent_by_lua_block { ngx.exit(200) }
        precontent_by_lua_file html/a.lua;
    }
--- request
GET /t
--- must_die
--- error_log
"precontent_by_lua_file" directive is duplicate



=== TEST 18: precontent_by_lua_block: runs (and yields) in a captured subrequest
--- config
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/sub")
            ngx.print(res.status, " ", res.body)
        }
    }
    location = /sub {
        precontent_by_lua_block {
            ngx.sleep(0.001)
            ngx.ctx.p = ngx.get_phase() .. " " .. tostring(ngx.is_subrequest)
        }
        content_by_lua_block { ngx.say(ngx.ctx.p) }
    }
--- request
GET /t
--- response_body
200 precontent true
--- no_error_log
[error]
