# lua_metrics across HUP reloads (master and two workers): the new
# workers count from zero, the configuration numbers its locations anew.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
use_hup();
no_shuffle();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_metrics: a configuration without it
--- config
    location = /t { content_by_lua_block { ngx.say("hi") } }
--- request
GET /t
--- response_body
hi
--- no_error_log
[error]



=== TEST 2: lua_metrics: a reload adds it
--- config
    location = /t { content_by_lua_block { ngx.say("hi") } }
    location = /metrics { lua_metrics; }
    location = /main {
        content_by_lua_block {
            for _ = 1, 4 do ngx.location.capture("/t") end
            local body = ngx.location.capture("/metrics").body
            ngx.say(body:match('\nngx_lua_handler_runs_total{worker="%d",location="/t",phase="content"} %d+'))
        }
    }
--- request
GET /main
--- response_body_like
^\nngx_lua_handler_runs_total\{worker="[01]",location="/t",phase="content"\} 4$
--- no_error_log
[error]



=== TEST 3: lua_metrics: another reload, other locations
--- config
    location = /a { content_by_lua_block { ngx.say("a") } }
    location = /b { content_by_lua_block { ngx.say("b") } }
    location = /metrics { lua_metrics; }
    location = /main {
        content_by_lua_block {
            ngx.location.capture("/a")
            ngx.location.capture("/b")
            ngx.location.capture("/b")
            local body = ngx.location.capture("/metrics").body
            ngx.say(body:match('location="/a",phase="content"} %d+'))
            ngx.say(body:match('location="/b",phase="content"} %d+'))
            ngx.say(body:find('location="/t"', 1, true))
        }
    }
--- request
GET /main
--- response_body
location="/a",phase="content"} 1
location="/b",phase="content"} 2
nil
--- no_error_log
[error]
