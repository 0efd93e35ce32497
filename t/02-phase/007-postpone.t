# rewrite_by_lua_no_postpone, access_by_lua_no_postpone,
# precontent_by_lua_no_postpone: by default our handlers run last in their
# phase (after set/rewrite, allow/deny, try_files); with the directive on
# they run first, before nginx's own handlers of that phase.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: rewrite_by_lua: by default it sees what nginx's set put there
--- config
    location = /t {
        set $x "from-set";
        rewrite_by_lua_block { ngx.ctx.x = ngx.var.x }
        content_by_lua_block { ngx.say("lua saw [", ngx.ctx.x, "]") }
    }
--- request
GET /t
--- response_body
lua saw [from-set]
--- no_error_log
[error]



=== TEST 2: rewrite_by_lua_no_postpone on: Lua runs before nginx's set
--- http_config
    rewrite_by_lua_no_postpone on;
--- config
    location = /t {
        set $x "from-set";
        rewrite_by_lua_block {
            ngx.ctx.x = ngx.var.x
            ngx.var.x = "from-lua"
        }
        content_by_lua_block { ngx.say("lua saw [", ngx.ctx.x, "], now ", ngx.var.x) }
    }
--- request
GET /t
--- response_body
lua saw [], now from-set
--- no_error_log
[error]



=== TEST 3: rewrite_by_lua_no_postpone on: Lua runs before the rewrite module's return
--- http_config
    rewrite_by_lua_no_postpone on;
--- config
    location = /t {
        rewrite_by_lua_block { ngx.say("lua first") ngx.exit(200) }
        return 418;
    }
--- request
GET /t
--- response_body
lua first
--- no_error_log
[error]



=== TEST 4: rewrite_by_lua_no_postpone on: a yield, then nginx's rewrite handlers still run
--- http_config
    rewrite_by_lua_no_postpone on;
--- config
    location = /t {
        rewrite_by_lua_block { ngx.sleep(0.001) ngx.ctx.slept = true }
        set $x "set after lua";
        content_by_lua_block { ngx.say(ngx.ctx.slept, " ", ngx.var.x) }
    }
--- request
GET /t
--- response_body
true set after lua
--- no_error_log
[error]



=== TEST 5: access_by_lua: by default deny answers first and Lua never runs
--- config
    location = /t {
        deny all;
        access_by_lua_block { ngx.log(ngx.WARN, "access lua ran") }
    }
--- request
GET /t
--- error_code: 403
--- error_log
access forbidden by rule
--- no_error_log
access lua ran



=== TEST 6: access_by_lua_no_postpone on: Lua runs before deny
--- http_config
    access_by_lua_no_postpone on;
--- config
    location = /t {
        deny all;
        access_by_lua_block { ngx.log(ngx.WARN, "access lua ran") }
    }
--- request
GET /t
--- error_code: 403
--- error_log
access lua ran
access forbidden by rule



=== TEST 7: access_by_lua_no_postpone on: Lua's 401 comes before allow
--- http_config
    access_by_lua_no_postpone on;
--- config
    location = /t {
        allow all;
        access_by_lua_block { ngx.exit(401) }
        content_by_lua_block { ngx.say("granted") }
    }
--- request
GET /t
--- error_code: 401
--- no_error_log
[error]



=== TEST 8: precontent_by_lua_no_postpone on: Lua runs before try_files
--- http_config
    precontent_by_lua_no_postpone on;
--- config
    location = /t {
        precontent_by_lua_block { ngx.log(ngx.WARN, "precontent of /t ran") }
        try_files /no-such-file @fallback;
        content_by_lua_block { ngx.say("original") }
    }
    location @fallback {
        content_by_lua_block { ngx.say("fallback") }
    }
--- request
GET /t
--- response_body
fallback
--- error_log
precontent of /t ran
--- no_error_log
[error]



=== TEST 9: precontent_by_lua_no_postpone on: try_files still runs after a yield
--- http_config
    precontent_by_lua_no_postpone on;
--- config
    location = /t {
        precontent_by_lua_block { ngx.sleep(0.001) ngx.log(ngx.WARN, "resumed") }
        try_files /no-such-file @fallback;
        content_by_lua_block { ngx.say("original") }
    }
    location @fallback {
        content_by_lua_block { ngx.say("fallback") }
    }
--- request
GET /t
--- response_body
fallback
--- error_log
resumed
--- no_error_log
[error]



=== TEST 10: precontent_by_lua_no_postpone off is the default
--- http_config
    precontent_by_lua_no_postpone off;
--- config
    location = /t {
        precontent_by_lua_block { ngx.log(ngx.WARN, "precontent of /t ran") }
        try_files /no-such-file @fallback;
    }
    location @fallback {
        content_by_lua_block { ngx.say("fallback") }
    }
--- request
GET /t
--- response_body
fallback
--- no_error_log
precontent of /t ran



=== TEST 11: rewrite_by_lua_no_postpone is not allowed in a server
--- config
    rewrite_by_lua_no_postpone on;
--- request
GET /t
--- must_die
--- error_log
"rewrite_by_lua_no_postpone" directive is not allowed here



=== TEST 12: access_by_lua_no_postpone is not allowed in a location
--- config
    location = /t {
        access_by_lua_no_postpone on;
    }
--- request
GET /t
--- must_die
--- error_log
"access_by_lua_no_postpone" directive is not allowed here



=== TEST 13: precontent_by_lua_no_postpone takes on or off
--- http_config
    precontent_by_lua_no_postpone maybe;
--- request
GET /t
--- must_die
--- error_log
invalid value "maybe", it must be "on" or "off"



=== TEST 14: rewrite_by_lua_no_postpone twice
--- http_config
    rewrite_by_lua_no_postpone on;
    rewrite_by_lua_no_postpone off;
--- request
GET /t
--- must_die
--- error_log
"rewrite_by_lua_no_postpone" directive is duplicate
