# ngx.location.capture_multi: parallel subrequests through nginx's whole
# pipeline (proxy_pass to the test's own servers, rewrite/access handlers),
# nesting, and captures issued by light threads and user coroutines.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: capture_multi: fan-out to three proxy_pass locations runs them in parallel
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            content_by_lua_block {
                ngx.sleep(0.3)
                ngx.say("one: ", ngx.var.uri, "?", ngx.var.args)
            }
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            content_by_lua_block {
                ngx.sleep(0.3)
                ngx.header["X-Backend"] = "two"
                ngx.say("two: ", ngx.req.get_method())
            }
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / {
            content_by_lua_block {
                ngx.sleep(0.3)
                ngx.req.read_body()
                ngx.say("three: ", ngx.req.get_body_data())
            }
        }
    }
--- config
    location /one/ { internal; proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    location /two/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/; }
    location /three/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/; }
    location = /t {
        content_by_lua_block {
            local start = ngx.now()
            local r1, r2, r3 = ngx.location.capture_multi{
                { "/one/a", { args = { q = 1 } } },
                { "/two/b", { method = ngx.HTTP_PUT } },
                { "/three/c", { method = ngx.HTTP_POST, body = "hello" } },
            }
            ngx.update_time()
            local elapsed = ngx.now() - start
            ngx.print(r1.body, r2.body, r3.body)
            ngx.say(r1.status, " ", r2.status, " ", r3.status)
            ngx.say("X-Backend: ", r2.header["X-Backend"])
            ngx.say("parallel: ", elapsed >= 0.29 and elapsed < 0.8)
        }
    }
--- request
GET /t
--- response_body
one: /a?q=1
two: PUT
three: hello
200 200 200
X-Backend: two
parallel: true
--- no_error_log
[error]



=== TEST 2: capture_multi: a request table built at run time, results in order
--- config
    location /echo {
        content_by_lua_block { ngx.print(ngx.var.arg_n) }
    }
    location = /t {
        content_by_lua_block {
            local reqs = {}
            for i = 1, 10 do
                reqs[i] = { "/echo", { args = { n = i } } }
            end
            local resps = { ngx.location.capture_multi(reqs) }
            local out = {}
            for i, res in ipairs(resps) do
                out[i] = res.body
            end
            ngx.say(#resps, ": ", table.concat(out, ","))
        }
    }
--- request
GET /t
--- response_body
10: 1,2,3,4,5,6,7,8,9,10
--- no_error_log
[error]



=== TEST 3: capture_multi: in series, mixed with capture
--- config
    location /a { content_by_lua_block { ngx.say("hello, a") } }
    location /b { content_by_lua_block { ngx.say("hello, b") } }
    location /c { content_by_lua_block { ngx.say("hello, c") } }
    location = /t {
        content_by_lua_block {
            local r1, r2 = ngx.location.capture_multi{ {"/a"}, {"/b"} }
            local r3 = ngx.location.capture("/c")
            local r4, r5 = ngx.location.capture_multi{ {"/c"}, {"/a"} }
            ngx.print(r1.body, r2.body, r3.body, r4.body, r5.body)
        }
    }
--- request
GET /t
--- response_body
hello, a
hello, b
hello, c
hello, c
hello, a
--- no_error_log
[error]



=== TEST 4: capture_multi: nested subrequests, and is_subrequest at each level
--- config
    location = /leaf {
        content_by_lua_block { ngx.print("leaf", ngx.var.arg_n, ":", ngx.is_subrequest) }
    }
    location = /middle {
        rewrite_by_lua_block {
            ngx.ctx.pre = ngx.location.capture("/leaf?n=0").body
        }
        content_by_lua_block {
            local a, b = ngx.location.capture_multi{ {"/leaf?n=1"}, {"/leaf?n=2"} }
            ngx.print("middle[", ngx.ctx.pre, " ", a.body, " ", b.body, "]")
        }
    }
    location = /t {
        content_by_lua_block {
            local a, b = ngx.location.capture_multi{ {"/middle"}, {"/leaf?n=3"} }
            ngx.say(a.body)
            ngx.say(b.body)
        }
    }
--- request
GET /t
--- response_body
middle[leaf0:true leaf1:true leaf2:true]
leaf3:true
--- no_error_log
[error]



=== TEST 5: capture_multi: light threads capture at the same time as the entry thread
--- config
    location /slow {
        content_by_lua_block {
            ngx.sleep(tonumber(ngx.var.arg_t))
            ngx.print("slept ", ngx.var.arg_t)
        }
    }
    location = /t {
        content_by_lua_block {
            local function fetch(t)
                return ngx.location.capture("/slow?t=" .. t).body
            end
            local t1 = ngx.thread.spawn(fetch, 0.2)
            local t2 = ngx.thread.spawn(fetch, 0.1)
            local mine = fetch(0.15)
            local ok1, b1 = ngx.thread.wait(t1)
            local ok2, b2 = ngx.thread.wait(t2)
            ngx.say(mine, "|", b1, "|", b2, "|", ok1, ok2)
        }
    }
--- request
GET /t
--- response_body
slept 0.15|slept 0.2|slept 0.1|truetrue
--- no_error_log
[error]



=== TEST 6: capture_multi: issued inside a user coroutine
--- config
    location /sub { content_by_lua_block { ngx.print("sub ", ngx.var.arg_i) } }
    location = /t {
        content_by_lua_block {
            local gen = coroutine.wrap(function()
                for i = 1, 3 do
                    local a, b = ngx.location.capture_multi{
                        {"/sub", { args = { i = i } }}, {"/sub", { args = { i = -i } }} }
                    coroutine.yield(a.body .. "+" .. b.body)
                end
            end)
            ngx.say(gen())
            ngx.say(gen())
            ngx.say(gen())
        }
    }
--- request
GET /t
--- response_body
sub 1+sub -1
sub 2+sub -2
sub 3+sub -3
--- no_error_log
[error]



=== TEST 7: capture_multi: subrequests run the target's rewrite and content handlers; nginx skips the access phase of subrequests
--- config
    location = /guarded {
        rewrite_by_lua_block {
            ngx.ctx.trail = "rewrite"
            if ngx.var.arg_key == "bad" then
                return ngx.exit(ngx.HTTP_FORBIDDEN)
            end
        }
        access_by_lua_block {
            ngx.ctx.trail = ngx.ctx.trail .. ",access"
            return ngx.exit(ngx.HTTP_UNAUTHORIZED)
        }
        content_by_lua_block { ngx.print(ngx.ctx.trail, ",content") }
    }
    location = /t {
        content_by_lua_block {
            local a, b = ngx.location.capture_multi{
                {"/guarded", { args = "key=ok" }}, {"/guarded", { args = "key=bad" }} }
            ngx.say(a.status, " ", a.body)
            ngx.say(b.status, " [", b.body, "]")
        }
    }
--- request eval
["GET /t", "GET /guarded?key=ok"]
--- error_code eval
[200, 401]
--- response_body_like eval
["^200 rewrite,content\n403 \\[\\]\n\$", "401 Authorization Required"]



=== TEST 8: capture_multi: ngx.exec, a named location and ngx.req.set_uri inside subrequests
--- config
    location = /exec { content_by_lua_block { ngx.exec("/target", "from=exec") } }
    location = /named { content_by_lua_block { ngx.exec("@named") } }
    location = /jump {
        rewrite_by_lua_block { ngx.req.set_uri("/target", true) }
    }
    location @named { content_by_lua_block { ngx.print("named ", ngx.is_subrequest) } }
    location = /target {
        content_by_lua_block {
            ngx.header["X-Target"] = "1"
            ngx.print("target ", ngx.var.args)
        }
    }
    location = /t {
        content_by_lua_block {
            local a, b, c = ngx.location.capture_multi{ {"/exec"}, {"/named"}, {"/jump?j=1"} }
            ngx.say(a.status, " ", a.body, " ", a.header["X-Target"])
            ngx.say(b.status, " ", b.body)
            ngx.say(c.status, " ", c.body, " ", c.header["X-Target"])
        }
    }
--- request
GET /t
--- response_body
200 target from=exec 1
200 named true
200 target j=1 1
--- no_error_log
[error]



=== TEST 9: capture_multi: a body filter and a header filter of the subrequest's location still run
--- config
    location = /sub {
        content_by_lua_block { ngx.say("lower case") }
        header_filter_by_lua_block { ngx.header["X-Filtered"] = "yes" }
        body_filter_by_lua_block { ngx.arg[1] = string.upper(ngx.arg[1]) }
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/sub")
            ngx.print(res.body)
            ngx.say(res.header["X-Filtered"], " ", res.truncated)
        }
    }
--- request
GET /t
--- response_body
LOWER CASE
yes false
--- no_error_log
[error]



=== TEST 10: capture_multi: only captured subrequests are swallowed; the parent's own output and filters are untouched
--- config
    location = /sub { content_by_lua_block { ngx.print("inner") } }
    location = /t {
        content_by_lua_block {
            ngx.say("before")
            ngx.flush(true)
            local res = ngx.location.capture("/sub")
            ngx.say("got ", res.body)
        }
        body_filter_by_lua_block {
            if ngx.arg[1] ~= "" then ngx.arg[1] = "<" .. ngx.arg[1] .. ">" end
        }
    }
--- request
GET /t
--- response_body eval
"<before\n><got inner\n>"
--- no_error_log
[error]



=== TEST 11: subrequests made by other modules (SSI) are not captured, and can capture themselves
--- user_files
>>> page.html
<p><!--# include virtual="/lua" --></p><p><!--# include virtual="/cap" --></p>
--- config
    location = /page.html { ssi on; }
    location = /lua { content_by_lua_block { ngx.print("from lua ", ngx.is_subrequest) } }
    location = /inner { content_by_lua_block { ngx.print("inner") } }
    location = /cap {
        content_by_lua_block {
            local r = ngx.location.capture("/inner")
            ngx.print("captured ", r.body)
        }
    }
--- request
GET /page.html
--- response_body
<p>from lua true</p><p>captured inner</p>
--- no_error_log
[error]



=== TEST 12: capture_multi: requests pipelined on one keepalive connection each get their subrequests' results
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { content_by_lua_block { ngx.sleep(0.05) ngx.print("proxied ", ngx.var.arg_n) } }
    }
--- config
    location /back/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    location = /sub { content_by_lua_block { ngx.print("sub ", ngx.var.arg_n) } }
    location = /t {
        content_by_lua_block {
            local n = ngx.var.arg_n
            local a, b = ngx.location.capture_multi{
                {"/sub", { args = { n = n } }}, {"/back/", { args = { n = n } }} }
            ngx.say(a.body, ", ", b.body)
        }
    }
--- pipelined_requests eval
["GET /t?n=1", "GET /t?n=2", "GET /t?n=3"]
--- response_body eval
["sub 1, proxied 1\n", "sub 2, proxied 2\n", "sub 3, proxied 3\n"]
--- no_error_log
[error]
