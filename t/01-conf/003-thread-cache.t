# lua_thread_cache_max_entries: entry coroutines that returned normally are
# reused by later handlers.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: a finished handler's coroutine runs the next handler
--- config
    location = /sub {
        content_by_lua_block {
            -- Anchors every coroutine seen, so an address cannot be
            -- reused by a new allocation.
            seen = seen or {}
            local co = coroutine.running()
            seen[#seen + 1] = co
            ngx.print(tostring(co))
        }
    }
    location = /t {
        content_by_lua_block {
            local a = ngx.location.capture("/sub").body
            local b = ngx.location.capture("/sub").body
            ngx.say(a == b)
        }
    }
--- request
GET /t
--- response_body
true



=== TEST 2: lua_thread_cache_max_entries 0 gives every handler a new coroutine
--- http_config
    lua_thread_cache_max_entries 0;
--- config
    location = /sub {
        content_by_lua_block {
            seen = seen or {}
            local co = coroutine.running()
            seen[#seen + 1] = co
            ngx.print(tostring(co))
        }
    }
    location = /t {
        content_by_lua_block {
            local a = ngx.location.capture("/sub").body
            local b = ngx.location.capture("/sub").body
            ngx.say(a == b)
        }
    }
--- request
GET /t
--- response_body
false



=== TEST 3: a reused coroutine starts with the real globals after setfenv(0)
--- config
    location = /sub {
        content_by_lua_block {
            local fresh = getfenv(0) == _G
            setfenv(0, { poisoned = true })
            ngx.print(tostring(fresh))
        }
    }
    location = /t {
        content_by_lua_block {
            local a = ngx.location.capture("/sub").body
            local b = ngx.location.capture("/sub").body
            ngx.say(a, " ", b)
        }
    }
--- request
GET /t
--- response_body
true true



=== TEST 4: a coroutine that died of an error is not reused
--- config
    location = /sub {
        content_by_lua_block {
            local co = coroutine.running()
            if ngx.var.arg_fail then
                failed_co = co
                error("boom")
            end
            ngx.print(tostring(failed_co ~= nil and co ~= failed_co))
        }
    }
    location = /t {
        content_by_lua_block {
            local bad = ngx.location.capture("/sub?fail=1")
            local good = ngx.location.capture("/sub")
            ngx.say(bad.status, " ", good.body)
        }
    }
--- request
GET /t
--- response_body
500 true
--- error_log
boom



=== TEST 5: lua_thread_cache_max_entries takes a number
--- http_config
    lua_thread_cache_max_entries many;
--- config
    location = /t {
        return 200;
    }
--- must_die
--- error_log
invalid number
