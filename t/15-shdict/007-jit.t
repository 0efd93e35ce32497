# ngx.shared.DICT methods are FFI calls: their loops compile to traces.
use Test::Nginx::Socket::Lua;

plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: shdict: get, set, incr, get_stale, ttl loops are JIT-compiled
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.dogs
            d:set("k", "value")
            d:set("n", 0)
            local events = {}
            local function on_trace(what, tr, func, pc, otr)
                events[#events + 1] = what
            end
            local cases = {
                get = function() local s = 0 for i = 1, 300 do s = s + #d:get("k") end end,
                set = function() for i = 1, 300 do d:set("k", "value") end end,
                incr = function() for i = 1, 300 do d:incr("n", 1) end end,
                get_stale = function() for i = 1, 300 do d:get_stale("k") end end,
                ttl = function() for i = 1, 300 do d:ttl("k") end end,
            }
            for _, name in ipairs{"get", "set", "incr", "get_stale", "ttl"} do
                events = {}
                jit.attach(on_trace, "trace")
                cases[name]()
                jit.attach(on_trace)
                -- Aborts are not counted: a rare one was seen under parallel
                -- test load and did not reproduce alone; what matters is
                -- that each loop ends in a finished trace.
                local stops = 0
                for _, e in ipairs(events) do
                    if e == "stop" then stops = stops + 1 end
                end
                ngx.say(name, ": traces ", stops > 0)
            end
        }
    }
--- request
GET /t
--- response_body
get: traces true
set: traces true
incr: traces true
get_stale: traces true
ttl: traces true
--- no_error_log
[error]
