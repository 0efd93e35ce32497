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



=== TEST 3: timer: an exiting worker takes zero-delay timers, which run normally, and refuses delayed ones
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(100, function(premature)
                local ok, err = ngx.timer.at(0, function(p)
                    ngx.log(ngx.WARN, "zero-delay timer ran, premature: ", p,
                            ", exiting: ", ngx.worker.exiting())
                    local ok2, err2 = ngx.timer.at(0, function(p2)
                        ngx.log(ngx.WARN, "nested zero-delay timer ran, premature: ", p2)
                    end)
                    ngx.log(ngx.WARN, "nested zero-delay timer: ", ok2, " ", err2)
                end)
                ngx.log(ngx.WARN, "zero-delay timer while exiting: ", ok, " ", err,
                        " (premature: ", premature, ")")
                local ok3, err3 = ngx.timer.at(0.001, function() end)
                ngx.log(ngx.WARN, "delayed timer while exiting: ", ok3, " ", err3)
                local ok4, err4 = ngx.timer.every(1, function() end)
                ngx.log(ngx.WARN, "every timer while exiting: ", ok4, " ", err4)
            end)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log
zero-delay timer while exiting: 1 nil (premature: true)
delayed timer while exiting: nil process exiting
every timer while exiting: nil process exiting
zero-delay timer ran, premature: false, exiting: true
nested zero-delay timer: 1 nil
nested zero-delay timer ran, premature: false
