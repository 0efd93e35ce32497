# lua_check_client_abort and ngx.on_abort.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: on_abort: the handler thread runs when the client goes away
--- config
    location = /t {
        lua_check_client_abort on;
        content_by_lua_block {
            local ok, err = ngx.on_abort(function()
                ngx.log(ngx.WARN, "on_abort called")
                ngx.exit(499)
            end)
            ngx.log(ngx.WARN, "registered: ", ok, " ", err)
            ngx.sleep(1)
            ngx.log(ngx.WARN, "main thread not aborted")
        }
    }
--- request
GET /t
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 0.3
--- error_log
registered: 1 nil
client prematurely closed connection
on_abort called
--- no_error_log
main thread not aborted



=== TEST 2: on_abort: without a handler the request is ended with 499
--- config
    location = /t {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.sleep(1)
            ngx.log(ngx.WARN, "main thread not aborted")
        }
        log_by_lua_block { ngx.log(ngx.WARN, "log phase status: ", ngx.status) }
    }
--- request
GET /t
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 0.3
--- error_log
client prematurely closed connection
--- no_error_log
main thread not aborted



=== TEST 3: on_abort: refused when the check is off, and a second call is a duplicate
--- config
    location = /off {
        content_by_lua_block { ngx.say(ngx.on_abort(function() end)) }
    }
    location = /on {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.say(ngx.on_abort(function() end))
            ngx.say(ngx.on_abort(function() end))
        }
    }
--- request eval
["GET /off", "GET /on"]
--- response_body eval
["nillua_check_client_abort is off\n", "1\nnilduplicate call\n"]



=== TEST 4: on_abort: an unused handler does not keep the request alive
--- config
    location = /t {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.on_abort(function() ngx.log(ngx.ERR, "should not run") end)
            ngx.sleep(0.01)
            ngx.say("done")
        }
    }
--- request
GET /t
--- response_body
done
--- no_error_log
should not run



=== TEST 5: on_abort: the check also covers rewrite and access handlers
--- config
    location = /t {
        lua_check_client_abort on;
        access_by_lua_block {
            ngx.on_abort(function() ngx.log(ngx.WARN, "aborted in access") ngx.exit(499) end)
            ngx.sleep(1)
        }
        content_by_lua_block { ngx.log(ngx.WARN, "content reached") }
    }
--- request
GET /t
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 0.3
--- error_log
aborted in access
--- no_error_log
content reached



=== TEST 6: lua_check_client_abort: a client that closes right after its request (the close seen while nginx read it) is noticed at the first wait
--- config
    location = /t {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.sleep(0.2)
            ngx.log(ngx.WARN, "main thread not aborted")
        }
        log_by_lua_block { ngx.log(ngx.WARN, "log phase status: ", ngx.status) }
    }
--- raw_request eval
"GET /t HTTP/1.0\r
Host: localhost\r
\r
"
--- shutdown
--- ignore_response
--- wait: 0.3
--- error_log
client prematurely closed connection
log phase status: 499
--- no_error_log
main thread not aborted
[error]



=== TEST 7: lua_check_client_abort: still watched after the body socket read the whole body
--- config
    location = /t {
        lua_check_client_abort on;
        content_by_lua_block {
            local sock = ngx.req.socket()
            local body, err = sock:receive("*a")
            ngx.log(ngx.WARN, "body: ", body, " ", err)
            ngx.sleep(0.2)
            ngx.log(ngx.WARN, "main thread not aborted")
        }
        log_by_lua_block { ngx.log(ngx.WARN, "log phase status: ", ngx.status) }
    }
--- raw_request eval
"POST /t HTTP/1.0\r
Host: localhost\r
Content-Length: 5\r
\r
hello"
--- shutdown
--- ignore_response
--- wait: 0.3
--- error_log
body: hello nil
client prematurely closed connection
log phase status: 499
--- no_error_log
main thread not aborted
[error]
