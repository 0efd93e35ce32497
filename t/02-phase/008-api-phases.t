# Which API may be called in server_rewrite_by_lua* and precontent_by_lua*
# (and the errors where not), plus the phase rules of the coroutine API and
# of ngx.arg in every other phase.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: server_rewrite_by_lua*: refused APIs name the phase
--- config
    server_rewrite_by_lua_block {
        local r = {}
        local function try(name, f, ...)
            local ok, err = pcall(f, ...)
            r[#r + 1] = name .. ": " .. (ok and "ok" or tostring(err))
        end
        try("capture", ngx.location.capture, "/sub")
        try("capture_multi", ngx.location.capture_multi, { { "/sub" } })
        try("arg", function() return ngx.arg[1] end)
        try("arg=", function() ngx.arg[1] = "x" end)
        ngx.ctx.r = r
    }
    location = /t {
        content_by_lua_block { ngx.say(table.concat(ngx.ctx.r, "\n")) }
    }
    location = /sub {
        return 200;
    }
--- request
GET /t
--- response_body_like eval
qr/\Acapture: API disabled in the context of server_rewrite_by_lua\*
capture_multi: API disabled in the context of server_rewrite_by_lua\*
arg: server_rewrite_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context
arg=: server_rewrite_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the context of server_rewrite_by_lua\*
\z/
--- no_error_log
[error]



=== TEST 2: precontent_by_lua*: refused APIs name the phase; set_uri may not jump there
--- config
    location = /t {
        precontent_by_lua_block {
            local r = {}
            local function try(name, f, ...)
                local ok, err = pcall(f, ...)
                r[#r + 1] = name .. ": " .. (ok and "ok" or tostring(err))
            end
            try("capture", ngx.location.capture, "/sub")
            try("set_uri jump", ngx.req.set_uri, "/x", true)
            try("set_uri", ngx.req.set_uri, "/y")
            try("arg", function() return ngx.arg[2] end)
            ngx.ctx.r = r
        }
        content_by_lua_block { ngx.say(table.concat(ngx.ctx.r, "\n"), "\n", ngx.var.uri) }
    }
    location = /sub {
        return 200;
    }
--- request
GET /t
--- response_body_like eval
qr/\Acapture: API disabled in the context of precontent_by_lua\*
set_uri jump: API disabled in the context of precontent_by_lua\*
set_uri: ok
arg: precontent_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context
\/y
\z/
--- no_error_log
[error]



=== TEST 3: server_rewrite_by_lua* and precontent_by_lua*: request, response and shared APIs work
--- http_config
    lua_shared_dict d 1m;
--- config
    server_rewrite_by_lua_block {
        -- runs before any server-level set
        ngx.var.v = "sr"
        ngx.req.set_header("X-In", "sr")
        ngx.header["X-Out"] = "sr"
        ngx.shared.d:set("k", "sr")
        ngx.ctx.args = ngx.req.get_uri_args().a
        ngx.ctx.method = ngx.req.get_method()
    }
    location = /declares-v {
        set $v "";
    }
    location = /t {
        precontent_by_lua_block {
            ngx.status = 202
            ngx.ctx.pre = table.concat({ ngx.var.v, ngx.req.get_headers()["X-In"],
                                         ngx.shared.d:get("k"), ngx.ctx.args,
                                         ngx.ctx.method, ngx.re.match("abc", "b")[0] }, ",")
        }
        content_by_lua_block { ngx.say(ngx.ctx.pre) }
    }
--- request
GET /t?a=1
--- error_code: 202
--- response_headers
X-Out: sr
--- response_body
sr,sr,sr,1,GET,b
--- no_error_log
[error]



=== TEST 4: server_rewrite_by_lua* and precontent_by_lua*: timers, semaphores and UDP sockets
--- config
    server_rewrite_by_lua_block {
        local sema = require("ngx.semaphore").new()
        assert(ngx.timer.at(0.001, function() sema:post(1) end))
        ngx.ctx.sr = tostring(sema:wait(1))
    }
    location = /t {
        precontent_by_lua_block {
            local u = ngx.socket.udp()
            assert(u:setpeername("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(u:send("ping"))
            ngx.ctx.pre = assert(u:receive())
        }
        content_by_lua_block { ngx.say(ngx.ctx.sr, " ", ngx.ctx.pre) }
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_1
--- udp_reply: pong
--- request
GET /t
--- response_body
true pong
--- no_error_log
[error]



=== TEST 5: server_rewrite_by_lua* and precontent_by_lua*: ngx.req.socket reads the body
--- config
    server_rewrite_by_lua_block {
        if ngx.var.uri == "/a" then
            local sock = assert(ngx.req.socket())
            ngx.ctx.got = "server_rewrite " .. assert(sock:receive(5))
        end
    }
    location = /a {
        content_by_lua_block { ngx.say(ngx.ctx.got) }
    }
    location = /b {
        precontent_by_lua_block {
            local sock = assert(ngx.req.socket())
            ngx.ctx.got = "precontent " .. assert(sock:receive(5))
        }
        content_by_lua_block { ngx.say(ngx.ctx.got) }
    }
--- request eval
["POST /a\nhello", "POST /b\nworld"]
--- response_body eval
["server_rewrite hello\n", "precontent world\n"]
--- no_error_log
[error]



=== TEST 6: server_rewrite_by_lua* and precontent_by_lua*: ngx.on_abort is accepted
--- config
    lua_check_client_abort on;
    server_rewrite_by_lua_block { ngx.ctx.sr = ngx.on_abort(function() end) }
    location = /t {
        precontent_by_lua_block { ngx.ctx.pre = ngx.on_abort(function() end) }
        content_by_lua_block { ngx.say(ngx.ctx.sr, " ", ngx.ctx.pre) }
    }
--- request
GET /t
--- response_body
1 1
--- no_error_log
[error]



=== TEST 7: server_rewrite_by_lua* and precontent_by_lua*: an I/O wait inside a user coroutine
--- config
    server_rewrite_by_lua_block {
        local co = coroutine.wrap(function()
            ngx.sleep(0.001)
            coroutine.yield("sr")
        end)
        ngx.ctx.sr = co()
    }
    location = /t {
        precontent_by_lua_block {
            local co = coroutine.create(function() ngx.sleep(0.001) return "pre" end)
            local ok, v = coroutine.resume(co)
            ngx.ctx.pre = v .. " " .. coroutine.status(co)
        }
        content_by_lua_block { ngx.say(ngx.ctx.sr, " ", ngx.ctx.pre) }
    }
--- request
GET /t
--- response_body
sr pre dead
--- no_error_log
[error]



=== TEST 8: coroutine API: refused in set_by_lua* and log_by_lua*
--- config
    location = /t {
        set_by_lua_block $co {
            local ok, err = pcall(coroutine.create, function() end)
            return err
        }
        content_by_lua_block {
            ngx.ctx.wrapped = coroutine.wrap(function() coroutine.yield(1) end)
            ngx.say(ngx.var.co)
        }
        log_by_lua_block {
            for _, name in ipairs({ "create", "resume", "wrap", "yield", "status" }) do
                local ok, err = pcall(coroutine[name], function() end)
                ngx.log(ngx.WARN, name, ": ", err)
            end
            local ok, err = pcall(ngx.ctx.wrapped)
            ngx.log(ngx.WARN, "earlier wrap: ", err)
        }
    }
--- request
GET /t
--- response_body
API disabled in the context of set_by_lua*
--- error_log
create: API disabled in the context of log_by_lua*
resume: API disabled in the context of log_by_lua*
wrap: API disabled in the context of log_by_lua*
yield: API disabled in the context of log_by_lua*
status: API disabled in the context of log_by_lua*
earlier wrap: API disabled in the context of log_by_lua*



=== TEST 9: coroutine API: the error points at the caller's line
--- config
    location = /t {
        set_by_lua_block $co {
            local ok, err = pcall(function()
                local co = coroutine.create(function() end)
                return co
            end)
            return err
        }
        content_by_lua_block { ngx.say(ngx.var.co) }
    }
--- request
GET /t
--- response_body_like eval
qr/^set_by_lua\(nginx\.conf:\d+\):3: API disabled in the context of set_by_lua\*$/



=== TEST 10: coroutine API: plain Lua coroutines in header and body filters
--- config
    location = /t {
        content_by_lua_block { ngx.say("body") }
        header_filter_by_lua_block {
            local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
            local _, x = coroutine.resume(co, 1)
            local _, y = coroutine.resume(co, 5)
            ngx.header["X-Co"] = x .. "," .. y .. "," .. coroutine.status(co)
        }
        body_filter_by_lua_block {
            if ngx.arg[1] ~= "" then
                local gen = coroutine.wrap(function(s) coroutine.yield(s:upper()) end)
                ngx.arg[1] = gen(ngx.arg[1])
            end
        }
    }
--- request
GET /t
--- response_headers
X-Co: 2,10,dead
--- response_body
BODY
--- no_error_log
[error]



=== TEST 11: coroutine API: init_by_lua* gets plain coroutines, init_worker_by_lua* refuses them
--- http_config
    lua_shared_dict d 1m;
    init_by_lua_block {
        local co = coroutine.create(function() coroutine.yield("init yield") end)
        local _, v = coroutine.resume(co)
        init_result = v
    }
    init_worker_by_lua_block {
        local ok, err = pcall(coroutine.create, function() end)
        ngx.shared.d:set("iw", tostring(err))
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say(init_result, "; ", ngx.shared.d:get("iw")) }
    }
--- request
GET /t
--- response_body
init yield; API disabled in the context of init_worker_by_lua*
--- no_error_log
[error]



=== TEST 12: coroutine API: allowed in timers
--- config
    location = /t {
        content_by_lua_block {
            local done = require("ngx.semaphore").new()
            local res
            ngx.timer.at(0, function()
                local co = coroutine.wrap(function() ngx.sleep(0.001) coroutine.yield("timer co") end)
                res = co()
                done:post()
            end)
            done:wait(1)
            ngx.say(res)
        }
    }
--- request
GET /t
--- response_body
timer co
--- no_error_log
[error]



=== TEST 13: ngx.arg: reading it where it means nothing raises upstream's error
--- config
    location = /t {
        rewrite_by_lua_block {
            local ok, err = pcall(function() return ngx.arg[1] end)
            ngx.ctx.rw = err
        }
        content_by_lua_block {
            local ok, err = pcall(function() return ngx.arg[1] end)
            ngx.say(ngx.ctx.rw)
            ngx.say(err)
            local res
            local done = require("ngx.semaphore").new()
            ngx.timer.at(0, function()
                res = select(2, pcall(function() return ngx.arg[1] end))
                done:post()
            end)
            done:wait(1)
            ngx.say(res)
        }
        log_by_lua_block {
            ngx.log(ngx.WARN, "log: ", select(2, pcall(function() return ngx.arg[2] end)))
        }
    }
--- request
GET /t
--- response_body_like eval
qr/\Arewrite_by_lua\(nginx\.conf:\d+\):2: API disabled in the current context
content_by_lua\(nginx\.conf:\d+\):2: API disabled in the current context
content_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context
\z/
--- error_log eval
qr/log: log_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/



=== TEST 14: ngx.arg: assigning outside a body filter names the phase; a bad index in a body filter
--- config
    location = /t {
        content_by_lua_block {
            for _, i in ipairs({ 1, 2, 3 }) do
                local ok, err = pcall(function() ngx.arg[i] = "x" end)
                ngx.say(i, ": ", err)
            end
        }
        header_filter_by_lua_block {
            ngx.header["X-Arg"] = select(2, pcall(function() ngx.arg[1] = "x" end))
        }
        body_filter_by_lua_block {
            if ngx.arg[2] then
                local ok, err = pcall(function() ngx.arg[3] = "x" end)
                ngx.arg[1] = ngx.arg[1] .. err .. "\n" .. tostring(ngx.arg[3]) .. "\n"
            end
        }
    }
--- request
GET /t
--- response_headers_like
X-Arg: header_filter_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the context of header_filter_by_lua\*
--- response_body_like eval
qr/\A1: content_by_lua\(nginx\.conf:\d+\):3: API disabled in the context of content_by_lua\*
2: content_by_lua\(nginx\.conf:\d+\):3: API disabled in the context of content_by_lua\*
3: content_by_lua\(nginx\.conf:\d+\):3: API disabled in the context of content_by_lua\*
body_filter_by_lua\(nginx\.conf:\d+\):3: bad index: 3
nil
\z/



=== TEST 15: ngx.arg: init_by_lua* has no request, init_worker_by_lua* refuses it
--- http_config
    lua_shared_dict d 1m;
    init_by_lua_block {
        ngx.arg[1] = "ignored"
        init_arg = select(2, pcall(function() return ngx.arg[1] end))
    }
    init_worker_by_lua_block {
        ngx.shared.d:set("read", select(2, pcall(function() return ngx.arg[1] end)))
        ngx.shared.d:set("write", select(2, pcall(function() ngx.arg[1] = "x" end)))
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(init_arg)
            ngx.say(ngx.shared.d:get("read"))
            ngx.say(ngx.shared.d:get("write"))
        }
    }
--- request
GET /t
--- response_body_like eval
qr/\Ainit_by_lua\(nginx\.conf:\d+\):\d+: no request found
init_worker_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context
init_worker_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the context of init_worker_by_lua\*
\z/
--- no_error_log
[error]



=== TEST 16: coroutine API and ngx.arg in exit_worker_by_lua*
--- http_config
    exit_worker_by_lua_block {
        ngx.log(ngx.WARN, "co: ", select(2, pcall(coroutine.wrap, function() end)))
        ngx.log(ngx.WARN, "arg: ", select(2, pcall(function() return ngx.arg[1] end)))
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log eval
[
qr/co: API disabled in the context of exit_worker_by_lua\*/,
qr/arg: exit_worker_by_lua\(nginx\.conf:\d+\):\d+: API disabled in the current context/,
]



=== TEST 17: coroutine API: a plain coroutine.wrap in a header filter adds the caller's position to errors
--- config
    location = /t {
        return 200 "ok\n";
        header_filter_by_lua_block {
            local co = coroutine.wrap(function()
                error("boom")
            end)
            local ok, err = pcall(function()
                co()
            end)
            ngx.log(ngx.WARN, "wrap error: ", err)
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/wrap error: header_filter_by_lua\(nginx\.conf:\d+\):6: header_filter_by_lua\(nginx\.conf:\d+\):3: boom/
--- no_error_log
[error]
