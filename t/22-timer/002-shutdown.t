# Timers and worker shutdown (needs a master process: nginx -s quit).
use Test::Nginx::Socket::Lua;

master_on();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: timer: pending timers run prematurely on graceful shutdown
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(100, function(premature, tag)
                ngx.log(ngx.WARN, "timer ", tag, " premature: ", premature)
            end, "long")
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log
timer long premature: true



=== TEST 2: timer: running timers finish before the worker exits
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function(premature)
                ngx.sleep(0.3)
                ngx.log(ngx.WARN, "slow timer finished, exiting: ", ngx.worker.exiting())
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log
slow timer finished, exiting: true



=== TEST 3: timer: no new timers once the worker is exiting
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(100, function(premature)
                local ok, err = ngx.timer.at(0, function() end)
                ngx.log(ngx.WARN, "new timer while exiting: ", ok, " ", err)
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log
new timer while exiting: nil process exiting
