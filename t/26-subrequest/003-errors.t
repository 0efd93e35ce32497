# ngx.location.capture*: argument errors, wrong phases, the subrequest
# depth limit, what a handler may not do while subrequests run, and
# subrequests whose upstream fails.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: capture: bad arguments give upstream's errors
--- config
    location = /sub { content_by_lua_block { ngx.print("sub") } }
    location = /t {
        content_by_lua_block {
            local cap, multi = ngx.location.capture, ngx.location.capture_multi
            local cases = {
                { cap },
                { cap, "/sub", {}, 3 },
                { multi },
                { multi, {{"/sub"}}, 2 },
                { multi, "/sub" },
                { multi, {} },
                { multi, {"/sub"} },
                { multi, {{}} },
                { multi, {{"/sub"}, {"/sub", {}, 3}} },
                { multi, {{"/sub", 3}} },
                { cap, {} },
                { cap, "/sub", "opts" },
                { cap, "/sub", { args = { [57] = "hi" } } },
                { cap, "/sub", { args = { "hi" } } },
                { cap, "/sub", { args = { a = print } } },
                { cap, "/sub", { args = { a = { {} } } } },
                { cap, "/sub", { args = true } },
                { cap, "/sub", { vars = "dog" } },
                { cap, "/sub", { vars = { [1] = "x" } } },
                { cap, "/sub", { vars = { dog = true } } },
                { cap, "/sub", { headers = 1 } },
                { cap, "/sub", { headers = { ["X-A"] = {} } } },
                { cap, "/sub", { share_all_vars = "yes" } },
                { cap, "/sub", { copy_all_vars = 1 } },
                { cap, "/sub", { method = "GET" } },
                { cap, "/sub", { ctx = "ctx" } },
                { cap, "/sub", { body = {} } },
                { cap, "/sub/../etc/passwd" },
            }
            for i, c in ipairs(cases) do
                local ok, err = pcall(c[1], unpack(c, 2, table.maxn(c)))
                ngx.say(i, ": ", ok, " ", err)
            end
        }
    }
--- request
GET /t
--- response_body
1: false expecting one or two arguments
2: false expecting one or two arguments
3: false only one argument is expected, but got 0
4: false only one argument is expected, but got 2
5: false bad argument #1 to 'capture_multi' (table expected, got string)
6: false at least one subrequest should be specified
7: false the query argument 0 is not a table, but a string
8: false query argument 0 expecting one or two arguments
9: false query argument 1 expecting one or two arguments
10: false expecting table as the 2nd argument for subrequest 0, but got number
11: false bad argument #3 to 'capture' (string expected, got table)
12: false expecting table as the 2nd argument for subrequest 0, but got string
13: false attempt to use a non-string key in the "args" option table
14: false attempt to use a non-string key in the "args" option table
15: false attempt to use function as query arg value
16: false attempt to use table as query arg value
17: false Bad args option value
18: false Bad vars option value
19: false attempt to use a non-string key in the "vars" option table
20: false attempt to use bad variable value type boolean
21: false Bad headers option value
22: false attempt to use bad variable value type table
23: false Bad share_all_vars option value
24: false Bad copy_all_vars option value
25: false Bad http request method
26: false Bad ctx option value type string, expected a Lua table
27: false Bad http request body
28: false unsafe uri in argument #1: /sub/../etc/passwd
--- no_error_log
[error]



=== TEST 2: capture: an argument error aborts the entry thread at the caller's line
--- config
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/sub",
                { args = true })
        }
    }
--- request
GET /t
--- error_code: 500
--- response_body_like: 500 Internal Server Error
--- error_log eval
qr/lua entry thread aborted: runtime error: content_by_lua\(nginx\.conf:\d+\):2: Bad args option value/



=== TEST 3: capture: an unsupported method number is logged and raised
--- config
    location = /sub { content_by_lua_block { ngx.print("sub") } }
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(ngx.location.capture, "/sub", { method = 10240 })
            ngx.say(ok, " ", err)
            ngx.say(ngx.location.capture("/sub").body)
        }
    }
--- request
GET /t
--- response_body
false failed to adjust the subrequest: -1
sub
--- error_log
unsupported HTTP method: 10240



=== TEST 4: capture: vars that are undefined or not changeable
--- config
    location = /sub { content_by_lua_block { ngx.print("sub") } }
    location = /t {
        set $dog '';
        content_by_lua_block {
            local ok, err = pcall(ngx.location.capture, "/sub", { vars = { cat = "x" } })
            ngx.say(ok, " ", err)
            ok, err = pcall(ngx.location.capture, "/sub", { vars = { query_string = "x" } })
            ngx.say(ok, " ", err)
            ngx.say(ngx.location.capture("/sub", { vars = { dog = "x" } }).body)
        }
    }
--- request
GET /t
--- response_body
false failed to adjust the subrequest: -1
false failed to adjust the subrequest: 500
sub
--- error_log
variable "cat" cannot be assigned a value (maybe you forgot to define it first?)
variable "query_string" not changeable



=== TEST 5: capture: wrong phases
--- http_config
    init_worker_by_lua_block {
        local ok, err = pcall(ngx.location.capture, "/sub")
        init_worker_err = err
    }
--- config
    location = /sub { content_by_lua_block { ngx.print("sub") } }
    location = /t {
        content_by_lua_block {
            ngx.say("init_worker: ", init_worker_err)
            ngx.timer.at(0, function()
                local ok, err = pcall(ngx.location.capture, "/sub")
                ngx.log(ngx.WARN, "timer: ", err)
            end)
            ngx.say("ok")
        }
        header_filter_by_lua_block {
            local ok, err = pcall(ngx.location.capture_multi, {{"/sub"}})
            ngx.log(ngx.WARN, "header filter: ", err)
        }
        body_filter_by_lua_block {
            if ngx.arg[2] then
                local ok, err = pcall(ngx.location.capture, "/sub")
                ngx.log(ngx.WARN, "body filter: ", err)
            end
        }
        log_by_lua_block {
            local ok, err = pcall(ngx.location.capture, "/sub")
            ngx.log(ngx.WARN, "log: ", err)
        }
    }
--- request
GET /t
--- response_body
init_worker: API disabled in the context of init_worker_by_lua*
ok
--- wait: 0.1
--- error_log
timer: API disabled in the context of ngx.timer
header filter: API disabled in the context of header_filter_by_lua*
body filter: API disabled in the context of body_filter_by_lua*
log: API disabled in the context of log_by_lua*
--- no_error_log
[error]



=== TEST 6: capture: recursion stops at nginx's subrequest depth limit
--- config
    location = /t {
        content_by_lua_block {
            local depth = tonumber(ngx.var.arg_d or 0)
            local ok, res = pcall(ngx.location.capture, "/t", { args = { d = depth + 1 } })
            if not ok then
                ngx.print("depth ", depth, ": ", res)
                return
            end
            ngx.print(res.body)
        }
    }
--- request
GET /t
--- response_body chomp
depth 51: failed to issue subrequest: -1
--- error_log
lua subrequests cycle while processing "/t"



=== TEST 7: capture: the handler may not end normally while a light thread's subrequests run
--- config
    location = /slow { content_by_lua_block { ngx.sleep(0.1) ngx.print("slow done") } }
    location = /t {
        content_by_lua_block {
            local th = ngx.thread.spawn(function()
                return ngx.location.capture("/slow").body
            end)
            ngx.say("exit: ", select(2, pcall(ngx.exit, 200)))
            ngx.say("exec: ", select(2, pcall(ngx.exec, "/slow")))
            ngx.say("redirect: ", select(2, pcall(ngx.redirect, "/slow")))
            ngx.say("kill: ", select(2, ngx.thread.kill(th)))
            ngx.say("wait: ", select(2, ngx.thread.wait(th)))
            ngx.exit(200)
        }
    }
--- request
GET /t
--- response_body
exit: attempt to abort with pending subrequests
exec: attempt to abort with pending subrequests
redirect: attempt to abort with pending subrequests
kill: pending subrequests
wait: slow done
--- no_error_log
[error]



=== TEST 8: capture: ngx.req.set_uri jumps are refused while subrequests run
--- config
    location = /slow { content_by_lua_block { ngx.sleep(0.05) ngx.print("slow") } }
    location = /target { content_by_lua_block { ngx.say("target ", ngx.var.arg_body) } }
    location = /t {
        rewrite_by_lua_block {
            local th = ngx.thread.spawn(function()
                return ngx.location.capture("/slow").body
            end)
            local ok, err = pcall(ngx.req.set_uri, "/target", true)
            ngx.log(ngx.WARN, "jump: ", err)
            local _, body = ngx.thread.wait(th)
            -- (ngx.ctx does not survive a jump, as upstream's)
            ngx.req.set_uri_args({ body = body })
            ngx.req.set_uri("/target", true)
        }
    }
--- request
GET /t
--- response_body
target slow
--- error_log
jump: attempt to abort with pending subrequests



=== TEST 9: capture: ngx.exit(ngx.ERROR) may end the request while subrequests run, which cancels them
--- config
    location = /slow {
        content_by_lua_block {
            ngx.sleep(0.3)
            ngx.log(ngx.WARN, "slow subrequest resumed")
        }
    }
    location = /t {
        content_by_lua_block {
            ngx.thread.spawn(function() ngx.location.capture("/slow") end)
            ngx.sleep(0.05)
            ngx.log(ngx.WARN, "giving up")
            ngx.exit(ngx.ERROR)
        }
    }
--- request
GET /t
--- ignore_response
--- wait: 0.4
--- error_log
giving up
--- no_error_log
slow subrequest resumed
[alert]



=== TEST 10: capture: an error in the entry thread while a light thread's subrequests run closes the connection
--- config
    location = /slow {
        content_by_lua_block {
            ngx.sleep(0.3)
            ngx.log(ngx.WARN, "slow subrequest resumed")
        }
    }
    location = /t {
        content_by_lua_block {
            ngx.thread.spawn(function() ngx.location.capture("/slow") end)
            error("boom")
        }
    }
--- request
GET /t
--- ignore_response
--- wait: 0.4
--- error_log
lua entry thread aborted: runtime error
boom
--- no_error_log
slow subrequest resumed
[alert]



=== TEST 11: capture: a client that goes away while subrequests run ends them (lua_check_client_abort)
--- config
    location = /slow {
        content_by_lua_block {
            ngx.sleep(1)
            ngx.log(ngx.WARN, "slow subrequest resumed")
        }
    }
    location = /t {
        lua_check_client_abort on;
        content_by_lua_block {
            ngx.location.capture("/slow")
            ngx.log(ngx.WARN, "main resumed")
        }
    }
--- request
GET /t
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 1.2
--- error_log
client prematurely closed connection
--- no_error_log
slow subrequest resumed
main resumed
[alert]



=== TEST 12: capture: an upstream that answers 5xx gives its status and body
--- config
    location = /proxy {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/proxy")
            ngx.say(res.status, " [", res.body, "] ", res.truncated, " ",
                    res.header["Retry-After"])
        }
    }
--- request
GET /t
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nRetry-After: 7\r\nConnection: close\r\n\r\nbusy"
--- response_body
503 [busy] false 7
--- no_error_log
[error]



=== TEST 13: capture: an upstream that refuses the connection gives 502 and an empty body
--- config
    location = /proxy {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/proxy")
            ngx.say(res.status, " [", res.body, "]")
            ngx.say("still alive")
        }
    }
--- request
GET /t
--- response_body
502 []
still alive
--- error_log
connect() failed (111: Connection refused)



=== TEST 14: capture: an upstream that times out before its header gives 504
--- config
    location = /proxy {
        internal;
        proxy_read_timeout 100ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/proxy")
            ngx.say(res.status, " [", res.body, "]")
        }
    }
--- request
GET /t
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply:
--- response_body
504 []
--- error_log
upstream timed out



=== TEST 15: capture: a body cut short by the upstream closing is truncated (buffered)
--- config
    location = /proxy {
        internal;
        proxy_buffering on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/proxy")
            ngx.say("status: ", res.status)
            ngx.say("body: ", res.body)
            ngx.say("truncated: ", res.truncated)
        }
    }
--- request
GET /t
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 1024\r\n\r\nhello world"
--- response_body
status: 200
body: hello world
truncated: true
--- error_log
upstream prematurely closed connection



=== TEST 16: capture: a body cut short by a read timeout is truncated (not buffered)
--- config
    location = /proxy {
        internal;
        proxy_buffering off;
        proxy_read_timeout 500ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/proxy")
            ngx.say("status: ", res.status)
            ngx.say("body: ", res.body)
            ngx.say("truncated: ", res.truncated)
        }
    }
--- request
GET /t
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval
"HTTP/1.0 200 OK\r\n\r\nhello world"
--- response_body
status: 200
body: hello world
truncated: true
--- error_log
upstream timed out



=== TEST 17: capture: a complete chunked upstream response is not truncated
--- config
    location = /proxy {
        internal;
        proxy_http_version 1.1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/proxy")
            ngx.say(res.status, " ", res.body, " ", res.truncated)
        }
    }
--- request
GET /t
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_no_close
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
--- response_body
200 hello false
--- no_error_log
[error]



=== TEST 18: capture: a subrequest that dies with its own capture pending; the orphan still completes
--- config
    location = /slow {
        content_by_lua_block {
            ngx.sleep(0.2)
            ngx.log(ngx.WARN, "orphan subrequest done")
            ngx.print("slow")
        }
    }
    location = /middle {
        content_by_lua_block {
            ngx.thread.spawn(function() ngx.location.capture("/slow") end)
            error("middle fails")
        }
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/middle")
            ngx.say("middle: ", res.status, " [", res.body, "]")
        }
    }
--- request
GET /t
--- response_body
middle: 500 []
--- wait: 0.3
--- error_log
middle fails
orphan subrequest done
--- no_error_log
[alert]
[crit]
