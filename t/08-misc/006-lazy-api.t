# APIs whose lua-lib module is loaded on first use (ngx.location.*,
# ngx.exec, ngx.redirect, ngx.run_worker_thread, ngx.re.*, ngx.socket.*,
# ngx.req.socket, ngx.req's body functions, the methods of ngx.shared.DICT): present from the start,
# the same to callers before and after the load. Once: the blocks look at
# the VM before the first call, which a repeated request would not see.
use Test::Nginx::Socket::Lua;

repeat_each(1);
plan tests => repeat_each() * (blocks() * 3 + 3);
run_tests();

__DATA__

=== TEST 1: lazy APIs: functions from the start, their modules loaded by the first call, the module's function in ngx.* afterwards
--- config
    location = /t {
        content_by_lua_block {
            local loaded = package.loaded
            local names = { "resty.core.subrequest", "resty.core.exec", "resty.core.worker_thread",
                            "resty.core.regex", "resty.core.socket", "resty.core.shdict_methods",
                            "resty.core.request_body" }
            local out = {}
            for _, m in ipairs(names) do
                out[#out + 1] = tostring(loaded[m] ~= nil)
            end
            ngx.say("before: ", table.concat(out, " "))
            ngx.say(type(ngx.location.capture), " ", type(ngx.location.capture_multi), " ",
                    type(ngx.exec), " ", type(ngx.redirect), " ", type(ngx.run_worker_thread), " ",
                    type(ngx.re.gsub), " ", type(ngx.req.socket), " ", type(ngx.req.init_body), " ",
                    rawequal(ngx.socket.stream, ngx.socket.tcp))
            local match = ngx.re.match
            local m = match("hello 42", [[\d+]], "jo")
            ngx.say("match: ", m[0], " ", loaded["resty.core.regex"] ~= nil,
                    " replaced: ", not rawequal(match, ngx.re.match))
            -- the function kept from before the load goes on working
            ngx.say("kept: ", match("abc", "b")[0], " ", ngx.re.match("abc", "c")[0])
            local sock = ngx.socket.tcp()
            ngx.say("socket: ", type(sock), " ", rawequal(ngx.socket.stream, ngx.socket.tcp),
                    " ", loaded["resty.core.socket"] ~= nil)
        }
    }
--- request
GET /t
--- response_body
before: false false false false false false false
function function function function function function function function true
match: 42 true replaced: true
kept: b c
socket: table true true
--- no_error_log
[error]



=== TEST 2: lazy APIs: a value the user stores before the first call stays; errors raised at level 2 point at the caller through a kept function
--- config
    location = /sub {
        content_by_lua_block { ngx.print("sub") }
    }
    location = /t {
        content_by_lua_block {
            local capture = ngx.location.capture
            ngx.location.capture = function(uri) return { body = "mine " .. uri } end
            ngx.say(capture("/sub").body, " ", ngx.location.capture("/sub").body)
            local exec = ngx.exec
            local line
            local ok, err = pcall(function()
                line = debug.getinfo(1, "l").currentline exec()
            end)
            local at = err:match("^content_by_lua%(nginx%.conf:%d+%):(%d+): "
                                 .. "expecting one or two arguments, but got 0$")
            ngx.say(ok, " ", at == tostring(line) or err)
        }
    }
--- request
GET /t
--- response_body
sub mine /sub
false true
--- no_error_log
[error]



=== TEST 3: lazy APIs: ngx.req.read_body kept before the load reads the body, waiting for it
--- config
    location = /t {
        content_by_lua_block {
            local read_body = ngx.req.read_body
            read_body()
            ngx.say(ngx.req.get_body_data(), " ", rawequal(read_body, ngx.req.read_body))
        }
    }
--- request eval
[["POST /t\nhel", {value => "lo", delay_before => 0.1}]]
--- response_body
hello false
--- no_error_log
[error]



=== TEST 4: lazy APIs: ngx.shared.DICT's metatable is the same table before and after its methods load
--- http_config
    lua_shared_dict d 1m;
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.d
            local mt = getmetatable(d)
            ngx.say(rawequal(mt.__index, mt), " ", package.loaded["resty.core.shdict_methods"] ~= nil)
            ngx.say(d:set("k", 1), " ", d:incr("k", 2), " ", rawequal(getmetatable(d), mt),
                    " ", type(rawget(mt, "get")), " ", d.nosuch)
        }
    }
--- request
GET /t
--- response_body
true false
true 3 true function nil
--- no_error_log
[error]



=== TEST 5: lazy APIs: with lua_code_cache off, the modules load once into the VM, whatever request calls first
--- http_config
    lua_shared_dict d 1m;
--- config
    lua_code_cache off;
    location = /t {
        content_by_lua_block {
            local m = ngx.re.match("a1", [[\d]])
            ngx.shared.d:incr("n", 1, 0)
            ngx.say(m[0], " ", type(ngx.socket.tcp()), " ", ngx.shared.d:get("n") > 0)
        }
    }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["1 table true\n", "1 table true\n"]
--- no_error_log
[error]



=== TEST 6: lazy APIs: the worker's Lua heap after start stays below what OpenResty's C module starts with (198.5 KB)
--- config
    location = /t {
        content_by_lua_block {
            collectgarbage()
            collectgarbage()
            local kb = collectgarbage("count")
            ngx.say(kb < 198.5 and "below" or kb)
        }
    }
--- request
GET /t
--- response_body
below
--- no_error_log
[error]
