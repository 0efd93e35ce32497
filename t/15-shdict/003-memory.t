# ngx.shared.DICT under memory pressure: eviction, forcible, no memory,
# fragmentation.
use Test::Nginx::Socket::Lua;

plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: shdict: a 12k zone filled to the brim
--- http_config
    lua_shared_dict small 12k;
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.small
            local empty = d:free_space()
            local v = string.rep("v", 100)
            local i = 0
            local forcible
            repeat
                i = i + 1
                local ok, err
                ok, err, forcible = d:set("key" .. i, v)
                if not ok then ngx.say("failed: ", err) return end
            until forcible
            ngx.say("stored before evicting: ", i - 1 >= 10, " capacity: ", d:capacity())
            ngx.say("newest kept: ", d:get("key" .. i) == v, ", oldest evicted: ", d:get("key1"))
            ngx.say("safe_set: ", d:safe_set("other", v))
            ngx.say("free pages: ", d:free_space())
            ngx.say("too big: ", d:set("huge", string.rep("x", 20000)))
            d:flush_all()
            d:flush_expired()
            ngx.say("keys after flush: ", #d:get_keys(0), ", space back: ", d:free_space() == empty)
            ngx.say("refill: ", d:set("again", v))
        }
    }
--- request
GET /t
--- response_body
stored before evicting: true capacity: 12288
newest kept: true, oldest evicted: nil
safe_set: falseno memoryfalse
free pages: 0
too big: falseno memorytrue
keys after flush: 0, space back: true
refill: truenilfalse
--- no_error_log
[error]



=== TEST 2: shdict: eviction takes the least recently used entry
--- http_config
    lua_shared_dict small 32k;
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.small
            -- empty, also when a HUP reload resized TEST 1's zone into this one
            d:flush_all()
            d:flush_expired()
            local v = string.rep("v", 200)
            local i = 0
            repeat
                i = i + 1
                local ok, err, forcible = d:safe_set("k" .. i, v)
            until not ok
            -- everything up to i - 1 fits; read k1 so k2 is the oldest
            assert(d:get("k1") == v)
            local ok, err, forcible = d:set("new", v)
            ngx.say(ok, " ", err, " ", forcible)
            ngx.say("k1: ", d:get("k1") ~= nil, ", k2: ", d:get("k2") ~= nil, ", new: ", d:get("new") ~= nil)
            -- an expired entry at the LRU tail goes before any live one
            d:expire("k3", 0.001)
            ngx.sleep(0.01)
            ok, err, forcible = d:set("newer", v)
            ngx.say(ok, " ", err, " ", forcible, ", k4: ", d:get("k4") ~= nil)
            -- incr with init evicts too, once its size class is full
            local n, j
            repeat
                j = (j or 0) + 1
                n, err, forcible = d:incr("counter" .. j, 1, 0)
            until forcible or not n
            ngx.say(n, " ", forcible)
        }
    }
--- request
GET /t
--- response_body
true nil true
k1: true, k2: false, new: true
true nil false, k4: true
1 true
--- no_error_log
[error]



=== TEST 3: shdict: churn of varied sizes keeps every value intact
--- http_config
    lua_shared_dict dogs 1m;
    lua_shared_dict small 40k;
--- config
    location = /t {
        content_by_lua_block {
            local function churn(d, rounds, keys)
                local model, bad, forced = {}, 0, 0
                local seed = 12345
                local function rnd(n)
                    seed = (seed * 1103515245 + 12345) % 2147483648
                    return seed % n
                end
                for _ = 1, rounds do
                    local k = "key" .. rnd(keys)
                    local op = rnd(10)
                    if op < 6 then
                        local v = string.rep(string.char(65 + rnd(26)), 1 + rnd(2000))
                        local ok, err, forcible = d:set(k, v)
                        if ok then model[k] = v end
                        if forcible then forced = forced + 1 end
                    elseif op < 8 then
                        d:delete(k)
                        model[k] = nil
                    else
                        local got = d:get(k)
                        -- evicted is allowed, a wrong value is not
                        if got ~= nil and got ~= model[k] then bad = bad + 1 end
                        if got == nil and model[k] and forced == 0 then bad = bad + 1 end
                    end
                end
                return bad, forced
            end
            local bad, forced = churn(ngx.shared.dogs, 20000, 200)
            ngx.say("1m: bad ", bad, ", evictions ", forced > 0)
            bad, forced = churn(ngx.shared.small, 20000, 200)
            ngx.say("40k: bad ", bad, ", evictions ", forced > 0)
        }
    }
--- request
GET /t
--- response_body
1m: bad 0, evictions false
40k: bad 0, evictions true
--- no_error_log
[error]
