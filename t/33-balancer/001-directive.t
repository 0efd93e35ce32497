# balancer_by_lua_block, balancer_by_lua_file, balancer_keepalive: the
# directives, the phase's rules (what the handler may call, ngx.exit, Lua
# errors) and nginx -t's errors.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
no_long_string();
run_tests();

__DATA__

=== TEST 1: balancer_by_lua_block: the handler runs when the upstream connects and chooses the peer
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            print("hello from the balancer")
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "backend $uri\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend/back;
    }
--- request
GET /t
--- response_body
backend /back
--- error_log eval
qr/\[notice\] .*? \[lua\] balancer_by_lua\(nginx\.conf:\d+\):2: hello from the balancer while connecting to upstream,/
--- no_error_log
[error]
[warn]



=== TEST 2: balancer_by_lua_file: the file chooses the peer (port from a variable)
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_file html/bal.lua;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "file balancer\n"; }
    }
--- config
    location = /t {
        set $backend_port $TEST_NGINX_RAND_PORT_1;
        proxy_pass http://backend;
    }
--- user_files
>>> bal.lua
print("from the file")
local b = require "ngx.balancer"
assert(b.set_current_peer("127.0.0.1:" .. ngx.var.backend_port))
--- request
GET /t
--- response_body
file balancer
--- error_log eval
qr/\[lua\] bal\.lua:1: from the file while connecting to upstream/
--- no_error_log
[error]



=== TEST 3: ngx.get_phase() is "balancer"
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            ngx.log(ngx.WARN, "phase: ", ngx.get_phase())
            require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
ok
--- error_log
phase: balancer
--- no_error_log
[error]



=== TEST 4: ngx.var, ngx.ctx, shared dicts and request readers work in the balancer
--- http_config
    lua_shared_dict peers 1m;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local port = ngx.shared.peers:get("port")
            ngx.var.seen = table.concat({
                ngx.ctx.from_access,
                ngx.var.arg_a,
                ngx.req.get_headers()["x-h"],
                ngx.req.get_uri_args().a,
                ngx.req.get_method(),
            }, ",")
            ngx.log(ngx.WARN, "seen: ", ngx.var.seen)
            ngx.ctx.from_balancer = "set in the balancer"
            assert(b.set_current_peer("127.0.0.1", port))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "backend\n"; }
    }
--- config
    location = /t {
        set $seen "";
        access_by_lua_block {
            ngx.shared.peers:set("port", $TEST_NGINX_RAND_PORT_1)
            ngx.ctx.from_access = "ctx"
        }
        proxy_pass http://backend;
        log_by_lua_block {
            ngx.log(ngx.WARN, "log phase: ", ngx.var.seen, ", ", ngx.ctx.from_balancer)
        }
    }
--- request
GET /t?a=1
--- more_headers
X-H: hdr
--- response_body
backend
--- error_log
seen: ctx,1,hdr,1,GET
log phase: ctx,1,hdr,1,GET, set in the balancer
--- no_error_log
[error]



=== TEST 5: APIs that yield are disabled: ngx.sleep
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            ngx.sleep(0.01)
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- error_code: 500
--- ignore_response_body
--- error_log eval
qr/\[error\] .*? failed to run balancer_by_lua\*: balancer_by_lua\(nginx\.conf:\d+\):2: API disabled in the context of balancer_by_lua\*/



=== TEST 6: APIs that yield are disabled: cosockets
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local sock = ngx.socket.tcp()
            local ok, err = sock:connect("127.0.0.1", $TEST_NGINX_SERVER_PORT)
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- error_code: 500
--- ignore_response_body
--- error_log eval
qr/\[error\] .*? failed to run balancer_by_lua\*: balancer_by_lua\(nginx\.conf:\d+\):\d: API disabled in the context of balancer_by_lua\*/



=== TEST 7: APIs that yield are disabled: light threads, subrequests, output, body reading
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local calls = {
                function() ngx.thread.spawn(function() end) end,
                function() ngx.location.capture("/x") end,
                function() ngx.say("x") end,
                function() ngx.req.read_body() end,
                function() coroutine.create(function() end) end,
            }
            for i, f in ipairs(calls) do
                local ok, err = pcall(f)
                ngx.log(ngx.WARN, "call ", i, ": ", err)
            end
            b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/call \d: [^,]*?API disabled in the context of balancer_by_lua\*/
--- grep_error_log_out eval
qr/^call 1: .*\ncall 2: .*\ncall 3: .*\ncall 4: .*\ncall 5: .*\n$/
--- no_error_log
[error]



=== TEST 8: a Lua error fails the try with 500 and a traceback; the worker serves on
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            if ngx.var.arg_fail then
                local t = nil
                local x = t.field
            end
            b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
    location = /both {
        content_by_lua_block {
            local r1 = ngx.location.capture("/t?fail=1")
            local r2 = ngx.location.capture("/t")
            ngx.print(r1.status, " ", r2.status, " ", r2.body)
        }
    }
--- request
GET /both
--- response_body
500 200 ok
--- error_log eval
[
qr/\[error\] .*? failed to run balancer_by_lua\*: balancer_by_lua\(nginx\.conf:\d+\):5: attempt to index local 't' \(a nil value\)$/,
qr/^stack traceback:$/,
qr/^\s+balancer_by_lua\(nginx\.conf:\d+\):5: in main chunk while connecting to upstream/,
]
--- no_error_log
[alert]
[crit]



=== TEST 9: a handler that does not compile: 500 and the load error
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            ngx.say("hello"
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- error_code: 500
--- ignore_response_body
--- error_log eval
qr/failed to load inlined Lua code: balancer_by_lua\(nginx\.conf:\d+\):3: '\)' expected \(to close '\(' at line 2\) near '<eof>'/



=== TEST 10: no peer set in an upstream block without servers: 500 and "no peer set"
--- http_config
    upstream backend {
        balancer_by_lua_block {
            print("no choice made")
        }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- error_code: 500
--- ignore_response_body
--- error_log eval
[
qr/\[lua\] balancer_by_lua\(nginx\.conf:\d+\):2: no choice made while connecting to upstream/,
qr/\[error\] .*? lua balancer: no peer set while connecting to upstream/,
]
--- no_error_log
[warn]



=== TEST 11: no peer set: the block's own servers are used, round robin
--- http_config
    upstream backend {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        balancer_by_lua_block {
            print("balancer without a choice")
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { return 200 "$server_port\n"; }
    }
--- config
    location = /p {
        proxy_pass http://backend;
    }
    location = /t {
        content_by_lua_block {
            local a = ngx.location.capture("/p").body
            local b = ngx.location.capture("/p").body
            ngx.say(a ~= b and "both servers" or "one server")
        }
    }
--- request
GET /t
--- response_body
both servers
--- grep_error_log: balancer without a choice
--- grep_error_log_out
balancer without a choice
balancer without a choice
--- no_error_log
[error]



=== TEST 12: ngx.exit(ngx.OK) lets the try go on with the peer set
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
            ngx.exit(ngx.OK)
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]



=== TEST 13: ngx.exit(ngx.ERROR) and ngx.exit(status) fail the request with 500 (stock nginx takes no status from a balancer)
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
            ngx.exit(tonumber(ngx.var.arg_code))
            ngx.log(ngx.WARN, "after exit")
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
    location = /both {
        content_by_lua_block {
            local r1 = ngx.location.capture("/t?code=" .. ngx.ERROR)
            local r2 = ngx.location.capture("/t?code=403")
            ngx.say(r1.status, " ", r2.status)
        }
    }
--- request
GET /both
--- response_body
500 500
--- error_log
after exit
--- no_error_log
[alert]



=== TEST 14: ngx.exit(ngx.DECLINED) makes nginx try the next peer
--- http_config
    proxy_next_upstream error;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            if not ngx.ctx.declined then
                ngx.ctx.declined = true
                b.set_more_tries(1)
                return ngx.exit(ngx.DECLINED)
            end
            b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "second try\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
second try
--- no_error_log
[error]



=== TEST 15: every upstream block has its own handler
--- http_config
    upstream one {
        server 0.0.0.1;
        balancer_by_lua_block {
            require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
        }
    }
    upstream two {
        server 0.0.0.1;
        balancer_by_lua_block {
            require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_2)
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "one\n"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { return 200 "two\n"; }
    }
--- config
    location = /one { proxy_pass http://one/; }
    location = /two { proxy_pass http://two/; }
    location = /t {
        content_by_lua_block {
            ngx.print(ngx.location.capture("/two").body, ngx.location.capture("/one").body)
        }
    }
--- request
GET /t
--- response_body
two
one
--- no_error_log
[error]



=== TEST 16: lua_code_cache off: the file is read again for each request
--- http_config
    lua_code_cache off;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_file html/bal.lua;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location = /p {
        set $bport $TEST_NGINX_RAND_PORT_1;
        proxy_pass http://backend;
    }
    location = /t {
        content_by_lua_block {
            local path = ngx.config.prefix() .. "html/bal.lua"
            local f = assert(io.open(path, "w"))
            f:write('print("version 1") require("ngx.balancer").set_current_peer("127.0.0.1", ngx.var.bport)')
            f:close()
            ngx.location.capture("/p")
            f = assert(io.open(path, "w"))
            f:write('print("version 2") require("ngx.balancer").set_current_peer("127.0.0.1", ngx.var.bport)')
            f:close()
            ngx.print(ngx.location.capture("/p").body)
        }
    }
--- user_files
>>> bal.lua
print("version 0")
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/version \d/
--- grep_error_log_out
version 1
version 2



=== TEST 17: nginx -t: balancer_by_lua_block outside upstream {}
--- config
    location = /t {
        balancer_by_lua_block { print(1) }
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*?"balancer_by_lua_block" directive is not allowed here/



=== TEST 18: nginx -t: a second handler in one upstream block
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block { print(1) }
        balancer_by_lua_file html/a.lua;
    }
--- config
    location = /t { proxy_pass http://backend; }
--- must_die
--- error_log eval
qr/\[emerg\] .*?"balancer_by_lua_file" directive is duplicate/



=== TEST 19: nginx -t: balancer_keepalive takes a positive number, once
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_keepalive 0;
        balancer_by_lua_block { print(1) }
    }
--- config
    location = /t { proxy_pass http://backend; }
--- must_die
--- error_log eval
qr/\[emerg\] .*?invalid value "0" in "balancer_keepalive" directive/



=== TEST 20: nginx -t: balancer_keepalive twice
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_keepalive 4;
        balancer_keepalive 8;
        balancer_by_lua_block { print(1) }
    }
--- config
    location = /t { proxy_pass http://backend; }
--- must_die
--- error_log eval
qr/\[emerg\] .*?"balancer_keepalive" directive is duplicate/



=== TEST 21: nginx -t: a block without its closing brace
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local s = "}
    }
--- config
    location = /t { proxy_pass http://backend; }
--- must_die
--- error_log eval
qr/\[emerg\] .*?unexpected end of file, expecting terminating characters for lua code block/



=== TEST 22: a method configured before the directive is redefined, with nginx's warning
--- http_config
    upstream backend {
        server 0.0.0.1;
        least_conn;
        balancer_by_lua_block {
            require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/load balancing method redefined in \S+/
--- grep_error_log_out eval
[qr/^load balancing method redefined in \S+nginx\.conf:\d+\n$/, ""]
--- no_error_log
[error]
