# ngx.ctx.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.ctx is per request
--- config
    location = /t {
        content_by_lua_block {
            ngx.ctx.n = (ngx.ctx.n or 0) + 1
            ngx.say(ngx.ctx.n)
        }
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- response_body eval
["1\n", "1\n", "1\n"]



=== TEST 2: the same table across phases, filters and log
--- config
    location = /t {
        rewrite_by_lua_block { ngx.ctx.trail = { "rewrite" } }
        content_by_lua_block { table.insert(ngx.ctx.trail, "content") ngx.say(table.concat(ngx.ctx.trail, ",")) }
        header_filter_by_lua_block { table.insert(ngx.ctx.trail, "header") }
        body_filter_by_lua_block { if ngx.arg[2] then table.insert(ngx.ctx.trail, "body") end }
        log_by_lua_block { table.insert(ngx.ctx.trail, "log") ngx.log(ngx.WARN, "trail: ", table.concat(ngx.ctx.trail, ",")) }
    }
--- request
GET /t
--- response_body
rewrite,content
--- error_log
trail: rewrite,content,header,body,log



=== TEST 3: assigning a new table
--- config
    location = /t {
        rewrite_by_lua_block { ngx.ctx = { replaced = true } }
        content_by_lua_block { ngx.say(ngx.ctx.replaced) }
    }
--- request
GET /t
--- response_body
true



=== TEST 4: assigning a non-table is an error, worded as upstream's
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(function() ngx.ctx = 1 end)
            ngx.say(err)
            ok, err = pcall(function() ngx.ctx = nil end)
            ngx.say(err)
        }
    }
--- request
GET /t
--- response_body_like chomp
ctx should be a table while getting a number
.*ctx should be a table while getting a nil$



=== TEST 5: ngx.ctx survives a yield and is fresh for the next request
--- config
    location = /t {
        content_by_lua_block {
            local seen = ngx.ctx.mark
            ngx.ctx.mark = "set"
            ngx.sleep(0.001)
            ngx.say(seen, " ", ngx.ctx.mark)
        }
    }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["nil set\n", "nil set\n"]



=== TEST 6: ngx.ctx outside a request
--- http_config
    init_by_lua_block { local ok, err = pcall(function() return ngx.ctx end) init_ctx_err = err }
--- config
    location = /t {
        content_by_lua_block { ngx.say(init_ctx_err) }
    }
--- request
GET /t
--- response_body_like
no request found



=== TEST 7: resty.core.ctx get_ctx_table(t): t becomes the request's ngx.ctx when it has none yet
--- config
    location = /t {
        content_by_lua_block {
            local get_ctx_table = require("resty.core.ctx").get_ctx_table
            local mine = { preset = 1 }
            ngx.say(get_ctx_table(mine) == mine, " ", ngx.ctx == mine, " ", ngx.ctx.preset)
            ngx.say(get_ctx_table({}) == mine, " ", get_ctx_table() == mine)
        }
    }
--- request
GET /t
--- response_body
true true 1
true true
--- no_error_log
[error]



=== TEST 8: ngx.ctx: a set_uri jump starts the new location with a fresh table, as upstream (which starts its Lua context afresh there)
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.ctx.foo = 32
            ngx.req.set_uri("/f", true)
        }
        log_by_lua_block { ngx.log(ngx.WARN, "old log handler: ", ngx.ctx.foo) }
    }
    location = /f {
        rewrite_by_lua_block { ngx.ctx.bar = "rewrite" }
        content_by_lua_block {
            ngx.say(ngx.ctx.foo, " ", ngx.ctx.bar)
        }
        log_by_lua_block { ngx.log(ngx.WARN, "new log handler: ", ngx.ctx.foo, " ", ngx.ctx.bar) }
    }
--- request
GET /t
--- response_body
nil rewrite
--- error_log
new log handler: nil rewrite
--- no_error_log
[error]
old log handler



=== TEST 9: ngx.ctx: a set_uri jump after a yield in server_rewrite_by_lua drops the table too
--- config
    server_rewrite_by_lua_block {
        if ngx.var.uri == "/t" then
            ngx.ctx.foo = 1
            ngx.sleep(0.001)
            ngx.req.set_uri("/f", true)
        end
    }
    location = /f {
        content_by_lua_block { ngx.say("f: ", ngx.ctx.foo) }
    }
--- request
GET /t
--- response_body
f: nil
--- no_error_log
[error]



=== TEST 10: ngx.ctx: a request and a timer that used it log upstream's debug line "lua release ngx.ctx at ref N" when they end
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                ngx.ctx.s = "timer"
                ngx.log(ngx.WARN, "timer set ctx")
            end)
            ngx.ctx.a = 1
            ngx.say("ok")
        }
        log_by_lua_block { ngx.log(ngx.WARN, "log phase ", ngx.ctx.a) }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- grep_error_log eval: qr/lua release ngx\.ctx at ref \d+|timer set ctx|log phase 1/
--- grep_error_log_out eval
qr/\A(?:timer set ctx\nlua release ngx\.ctx at ref \d+\nlog phase 1\nlua release ngx\.ctx at ref \d+\n|log phase 1\nlua release ngx\.ctx at ref \d+\ntimer set ctx\nlua release ngx\.ctx at ref \d+\n)\z/
--- no_error_log
[error]



=== TEST 11: ngx.ctx: a request that never used it logs no release line
--- config
    location = /t {
        content_by_lua_block { ngx.say("none") }
        log_by_lua_block { ngx.log(ngx.WARN, "logged") }
    }
--- request
GET /t
--- response_body
none
--- error_log
logged
--- no_error_log
lua release ngx.ctx
[error]
