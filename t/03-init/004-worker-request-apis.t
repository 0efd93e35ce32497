# init_worker_by_lua* and exit_worker_by_lua*: request APIs refuse with
# upstream's fake-request wording ("API disabled in the current context",
# or for the output and capture APIs "in the context of init_worker_by_lua*").
use Test::Nginx::Socket::Lua;

plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: init_worker_by_lua: request APIs say "API disabled in the current context"
--- http_config
    init_worker_by_lua_block {
        local probes = {
            { "ngx.var", function() return ngx.var.uri end },
            { "ngx.status", function() return ngx.status end },
            { "ngx.header", function() ngx.header.foo = "bar" end },
            { "ngx.headers_sent", function() return ngx.headers_sent end },
            { "ngx.req.get_method", function() return ngx.req.get_method() end },
            { "ngx.req.get_headers", function() return ngx.req.get_headers() end },
            { "ngx.req.get_uri_args", function() return ngx.req.get_uri_args() end },
            { "ngx.req.set_header", function() ngx.req.set_header("a", "b") end },
        }
        local out = {}
        for _, p in ipairs(probes) do
            local ok, err = pcall(p[2])
            out[#out + 1] = p[1] .. ": " .. tostring(ok) .. " "
                .. (tostring(err):match("API disabled in the current context") or tostring(err))
        end
        package.loaded.worker_probes = table.concat(out, "\n")
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say(package.loaded.worker_probes) }
    }
--- request
GET /t
--- response_body
ngx.var: false API disabled in the current context
ngx.status: false API disabled in the current context
ngx.header: false API disabled in the current context
ngx.headers_sent: false API disabled in the current context
ngx.req.get_method: false API disabled in the current context
ngx.req.get_headers: false API disabled in the current context
ngx.req.get_uri_args: false API disabled in the current context
ngx.req.set_header: false API disabled in the current context
--- no_error_log
no request found



=== TEST 2: exit_worker_by_lua: the same wording
--- http_config
    exit_worker_by_lua_block {
        local ok, err = pcall(function() return ngx.req.get_method() end)
        local ok2, err2 = pcall(function() return ngx.var.uri end)
        ngx.log(ngx.WARN, "exit probes: ", ok, " ", err, " / ", ok2, " ", err2)
    }
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log eval
qr/exit probes: false API disabled in the current context \/ false .*API disabled in the current context/



=== TEST 3: init_worker_by_lua: ngx.ctx is a table of its own, ngx.is_subrequest refuses
--- http_config
    init_worker_by_lua_block {
        local out = {}
        ngx.ctx.foo = "hello world"
        out[#out + 1] = "ctx.foo: " .. tostring(ngx.ctx.foo)
        ngx.ctx = { bar = 32 }
        out[#out + 1] = "ctx.bar: " .. tostring(ngx.ctx.bar)
            .. " foo: " .. tostring(ngx.ctx.foo)
        local ok, err = pcall(function() return ngx.is_subrequest end)
        out[#out + 1] = "is_subrequest: " .. tostring(ok) .. " " .. tostring(err)
        package.loaded.worker_ctx_probes = table.concat(out, "\n")
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(package.loaded.worker_ctx_probes)
            ngx.say("request ctx.bar: ", ngx.ctx.bar)
        }
    }
--- request
GET /t
--- response_body_like
^ctx.foo: hello world
ctx.bar: 32 foo: nil
is_subrequest: false .*API disabled in the current context
request ctx.bar: nil
--- no_error_log
[error]



=== TEST 4: exit_worker_by_lua: a fresh ngx.ctx; timers: ngx.is_subrequest refuses
--- http_config
    init_worker_by_lua_block {
        ngx.ctx.from_init = "leaked"
    }
    exit_worker_by_lua_block {
        local before = tostring(ngx.ctx.from_init)
        ngx.ctx.n = 7
        local ok, err = pcall(function() return ngx.is_subrequest end)
        ngx.log(ngx.WARN, "exit ctx: ", before, " ", ngx.ctx.n,
                " is_subrequest: ", ok, " ", err)
    }
--- config
    location = /t {
        content_by_lua_block {
            local res = {}
            local ok, err = ngx.timer.at(0, function()
                res.ok, res.err = pcall(function() return ngx.is_subrequest end)
            end)
            ngx.sleep(0.05)
            ngx.say("timer is_subrequest: ", res.ok, " ", res.err)
        }
    }
--- request
GET /t
--- response_body_like
^timer is_subrequest: false .*API disabled in the current context
--- shutdown_error_log eval
qr/exit ctx: nil 7 is_subrequest: false .*API disabled in the current context/



=== TEST 5: init_worker_by_lua and exit_worker_by_lua: output and capture APIs say "API disabled in the context of init_worker_by_lua*" (exit_worker_by_lua*), as upstream's fake request answers
--- http_config
    init_worker_by_lua_block {
        local probes = {
            { "ngx.say", function() ngx.say("hello") end },
            { "ngx.print", function() ngx.print("hello") end },
            { "ngx.flush", function() ngx.flush() end },
            { "ngx.eof", function() ngx.eof() end },
            { "ngx.send_headers", function() ngx.send_headers() end },
            { "ngx.location.capture", function() ngx.location.capture("/t") end },
        }
        local out = {}
        for _, p in ipairs(probes) do
            local ok, err = pcall(p[2])
            out[#out + 1] = p[1] .. ": " .. tostring(ok) .. " " .. tostring(err)
        end
        package.loaded.worker_probes = table.concat(out, "\n")
    }
    exit_worker_by_lua_block {
        local ok, err = pcall(ngx.say, "bye")
        ngx.log(ngx.WARN, "exit say: ", ok, " ", err)
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say(package.loaded.worker_probes) }
    }
--- request
GET /t
--- response_body_like chomp
\Angx\.say: false init_worker_by_lua\(nginx\.conf:\d+\):3: API disabled in the context of init_worker_by_lua\*
ngx\.print: false init_worker_by_lua\(nginx\.conf:\d+\):4: API disabled in the context of init_worker_by_lua\*
ngx\.flush: false init_worker_by_lua\(nginx\.conf:\d+\):5: API disabled in the context of init_worker_by_lua\*
ngx\.eof: false init_worker_by_lua\(nginx\.conf:\d+\):6: API disabled in the context of init_worker_by_lua\*
ngx\.send_headers: false init_worker_by_lua\(nginx\.conf:\d+\):7: API disabled in the context of init_worker_by_lua\*
ngx\.location\.capture: false init_worker_by_lua\(nginx\.conf:\d+\):8: API disabled in the context of init_worker_by_lua\*
\z
--- shutdown_error_log
exit say: false API disabled in the context of exit_worker_by_lua*
