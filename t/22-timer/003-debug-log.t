# The debug-level lines upstream writes around timers, which test suites
# grep for: each is written only when the error log takes debug lines.
use Test::Nginx::Socket::Lua;

master_on();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: timer: a timer that fires logs "lua ngx.timer expired", then its fake connection's close
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                ngx.log(ngx.WARN, "in timer")
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- grep_error_log eval: qr/lua ngx\.timer expired|in timer|http lua close fake http connection/
--- grep_error_log_out
lua ngx.timer expired
in timer
http lua close fake http connection
--- no_error_log
[error]



=== TEST 2: timer: the first timer of a worker creates the watcher connection
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function() end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log
lua creating fake watcher connection
--- no_error_log
[error]



=== TEST 3: timer: a log at info level gets none of the debug lines
--- log_level: info
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                ngx.log(ngx.WARN, "in timer")
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- wait: 0.1
--- error_log
in timer
--- no_error_log
lua ngx.timer expired
http lua close fake http connection
[debug]



=== TEST 4: timer: graceful shutdown counts the pending timers it runs prematurely
--- config
    location = /t {
        content_by_lua_block {
            for i = 1, 3 do
                ngx.timer.at(100, function() end)
            end
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log eval
[qr/lua abort pending timers/,
qr/lua found 3 pending timers to be aborted prematurely/]
