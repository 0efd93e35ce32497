# ngx.exit: statuses it refuses.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.exit: ngx.AGAIN is refused with upstream's error, the request ends with 500
--- config
    location = /t {
        content_by_lua_block {
            ngx.exit(ngx.AGAIN)
        }
    }
--- request
GET /t
--- error_code: 500
--- response_body_like: 500 Internal Server Error
--- error_log eval
qr/\[error\] .*? bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE/



=== TEST 2: ngx.exit: ngx.DONE is refused in rewrite_by_lua, catchable by pcall
--- config
    location = /t {
        rewrite_by_lua_block {
            local ok, err = pcall(ngx.exit, ngx.DONE)
            ngx.say(ok, " ", err)
            ok, err = pcall(ngx.exit, -2)
            ngx.say(ok, " ", err)
            ngx.exit(200)
        }
    }
--- request
GET /t
--- response_body
false bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE
false bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE
--- no_error_log
[error]



=== TEST 3: ngx.exit: ngx.AGAIN in a timer is refused too
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local ok, err = pcall(ngx.exit, ngx.AGAIN)
                ngx.log(ngx.WARN, "timer exit: ", ok, " ", err)
            end)
            ngx.sleep(0.01)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log
timer exit: false bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE
--- no_error_log
[error]



=== TEST 4: ngx.exit: an error status after the header went out is logged and the request ends as a 200
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("hi")
            ngx.flush(true)
            ngx.exit(404)
            ngx.say("not reached")
        }
    }
--- request
GET /t
--- response_body
hi
--- error_log
attempt to set status 404 via ngx.exit after sending out the response status 200
--- no_error_log
[alert]



=== TEST 5: ngx.exit: 444 and 499 after the header went out are not logged
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("hi")
            ngx.flush(true)
            ngx.exit(ngx.HTTP_CLOSE)
        }
    }
--- request
GET /t
--- ignore_response
--- no_error_log
attempt to set status
[alert]



=== TEST 6: ngx.exit: ngx.DECLINED in content_by_lua ends the handler without a response, as upstream
--- config
    location = /t {
        content_by_lua_block {
            ngx.exit(ngx.DECLINED)
        }
    }
--- request
GET /t
--- error_code:
--- response_body
--- no_error_log
[error]



=== TEST 7: ngx.exit: ngx.DECLINED in content_by_lua after a wait ends the handler without a response too
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.001)
            ngx.exit(ngx.DECLINED)
        }
    }
--- request
GET /t
--- error_code:
--- response_body
--- no_error_log
[error]



=== TEST 8: ngx.exit: upstream's debug line with the status it records
--- config
    location = /e {
        content_by_lua_block { ngx.exit(204) }
    }
--- log_level: debug
--- request
GET /e
--- error_code: 204
--- response_body
--- grep_error_log eval
qr/lua exit with code \d+/
--- grep_error_log_out
lua exit with code 204
--- no_error_log
[error]



=== TEST 9: ngx.exit: after the header went out with another status, the debug line gives the 200 it records instead
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("body")
            ngx.exit(503)
        }
    }
--- log_level: debug
--- request
GET /t
--- response_body
body
--- grep_error_log eval
qr/lua exit with code \d+/
--- grep_error_log_out
lua exit with code 200
--- error_log
attempt to set status 503 via ngx.exit after sending out the response status 200
