# rewrite_by_lua* and access_by_lua*: order, ngx.exit, yields, output.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: rewrite_by_lua runs after nginx's own rewrite directives
--- config
    location = /t {
        rewrite_by_lua_block { ngx.say("lua first") ngx.exit(200) }
        return 418;
    }
--- request
GET /t
--- error_code: 418
--- no_error_log
[error]



=== TEST 2: access_by_lua runs after nginx's access module
--- config
    location = /t {
        access_by_lua_block { ngx.say("lua first") ngx.exit(200) }
        deny all;
    }
--- request
GET /t
--- error_code: 403
--- error_log
access forbidden by rule



=== TEST 3: phases run in order and share ngx.ctx
--- config
    location = /t {
        rewrite_by_lua_block { ngx.ctx.t = { ngx.get_phase() } }
        access_by_lua_block { table.insert(ngx.ctx.t, ngx.get_phase()) }
        content_by_lua_block {
            table.insert(ngx.ctx.t, ngx.get_phase())
            ngx.say(table.concat(ngx.ctx.t, ","))
        }
    }
--- request
GET /t
--- response_body
rewrite,access,content
--- no_error_log
[error]



=== TEST 4: ngx.exit(status) in rewrite ends the request with that status
--- config
    location = /t {
        rewrite_by_lua_block { ngx.exit(404) }
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 404
--- response_body_like: 404 Not Found



=== TEST 5: ngx.exit(ngx.OK) in rewrite continues with the next phase
--- config
    location = /t {
        rewrite_by_lua_block { ngx.ctx.x = "set" ngx.exit(ngx.OK) ngx.ctx.x = "not" }
        content_by_lua_block { ngx.say(ngx.ctx.x) }
    }
--- request
GET /t
--- response_body
set



=== TEST 6: ngx.exit(ngx.OK) in access grants access (satisfy any)
--- config
    location = /t {
        satisfy any;
        deny all;
        access_by_lua_block { ngx.exit(ngx.OK) }
        content_by_lua_block { ngx.say("granted") }
    }
--- request
GET /t
--- response_body
granted



=== TEST 7: access handler output then ngx.exit(200) ends the request
--- config
    location = /t {
        access_by_lua_block { ngx.say("from access") ngx.exit(200) }
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- response_body
from access
--- no_error_log
[error]



=== TEST 8: rewrite and access yield (ngx.sleep), then the request goes on
--- config
    location = /t {
        rewrite_by_lua_block { ngx.sleep(0.01) ngx.ctx.n = 1 }
        access_by_lua_block { ngx.sleep(0.01) ngx.ctx.n = ngx.ctx.n + 1 }
        content_by_lua_block { ngx.sleep(0.01) ngx.say(ngx.ctx.n + 1) }
    }
--- request
GET /t
--- response_body
3
--- no_error_log
[error]



=== TEST 9: ngx.exit(403) after a yield in access
--- config
    location = /t {
        access_by_lua_block { ngx.sleep(0.001) ngx.exit(403) }
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 403



=== TEST 10: server-level and http-level handlers are inherited
--- http_config
    rewrite_by_lua_block { ngx.ctx.from = "http" }
--- config
    location = /t {
        content_by_lua_block { ngx.say(ngx.ctx.from) }
    }
--- request
GET /t
--- response_body
http



=== TEST 11: runtime error in rewrite gives 500
--- config
    location = /t {
        rewrite_by_lua_block { error("rewrite failed") }
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/lua entry thread aborted: runtime error: rewrite_by_lua\(nginx\.conf:\d+\):1: rewrite failed/



=== TEST 12: rewrite_by_lua with a static file content handler
--- config
    location = /index.html {
        root html;
        rewrite_by_lua_block { ngx.sleep(0.001) }
    }
--- user_files
>>> index.html
static
--- request
GET /index.html
--- response_body
static



=== TEST 13: access_by_lua: returning grants access under satisfy any, as ngx.exit(ngx.OK)
--- config
    location = /t {
        satisfy any;
        deny all;
        access_by_lua_block { return }
        content_by_lua_block { ngx.say("granted") }
    }
--- request
GET /t
--- response_body
granted
--- no_error_log
[error]



=== TEST 14: access_by_lua: output without ngx.exit ends the request
--- config
    location = /t {
        access_by_lua_block { ngx.say("from access") }
        content_by_lua_block { ngx.log(ngx.ERR, "content ran") }
    }
--- request
GET /t
--- response_body
from access
--- no_error_log
content ran
[error]



=== TEST 15: rewrite_by_lua: output without ngx.exit ends the request (HTTP/1.0 buffered)
--- config
    location = /t {
        rewrite_by_lua_block { ngx.say("from rewrite") }
        content_by_lua_block { ngx.log(ngx.ERR, "content ran") }
    }
--- request
GET /t HTTP/1.0
--- response_body
from rewrite
--- response_headers
Content-Length: 13
--- no_error_log
content ran
[error]



=== TEST 16: access_by_lua: ngx.exit(ngx.DECLINED) does not grant access under satisfy any
--- config
    location = /t {
        satisfy any;
        deny all;
        access_by_lua_block { ngx.sleep(0.001) ngx.exit(ngx.DECLINED) }
        content_by_lua_block { ngx.say("granted") }
    }
--- request
GET /t
--- error_code: 403
--- error_log
access forbidden by rule



=== TEST 17: rewrite_by_lua: ngx.exit(ngx.DECLINED) goes on like returning
--- config
    location = /t {
        rewrite_by_lua_block { ngx.ctx.a = 1 ngx.exit(ngx.DECLINED) ngx.ctx.a = 2 }
        content_by_lua_block { ngx.say("a=", ngx.ctx.a) }
    }
--- request
GET /t
--- response_body
a=1
--- no_error_log
[error]
