# A HUP reload that gives a lua_shared_dict a new size keeps its live
# entries (an extension: upstream starts the resized zone empty), with a
# master and two workers.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
use_hup();
no_shuffle();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: shdict resize: values, flags, TTLs and a list written before the reload
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.dogs
            d:set("num", 42.5)
            d:set("str", "rex", 100, 7)
            d:set("yes", true, 0, 3)
            d:set("short", "gone", 0.001)
            for _, v in ipairs({ 1, "two", 3 }) do d:rpush("list", v) end
            d:expire("list", 200)
            ngx.sleep(0.01)
            ngx.say("stored: ", #d:get_keys(0))
        }
    }
--- request
GET /t
--- response_body
stored: 4
--- no_error_log
[error]



=== TEST 2: shdict resize: a grown zone keeps every live value, flag, TTL and list; expired entries are dropped
--- http_config
    lua_shared_dict dogs 2m;
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.dogs
            ngx.say("capacity: ", d:capacity())
            ngx.say("num: ", d:get("num"))
            ngx.say("str: ", d:get("str"))
            ngx.say("yes: ", d:get("yes"))
            local ttl = d:ttl("str")
            ngx.say("str ttl kept: ", ttl > 90 and ttl <= 100)
            ttl = d:ttl("list")
            ngx.say("list ttl kept: ", ttl > 190 and ttl <= 200)
            ngx.say("num ttl: ", d:ttl("num"))
            ngx.say("short, even stale: ", d:get_stale("short"))
            ngx.say("list: ", d:llen("list"), " ", d:lpop("list"), " ", d:lpop("list"), " ", d:lpop("list"))
        }
    }
--- request
GET /t
--- response_body
capacity: 2097152
num: 42.5
str: rex7
yes: true3
str ttl kept: true
list ttl kept: true
num ttl: 0
short, even stale: nil
list: 3 1 two 3
--- error_log eval
qr/\[notice\] .*lua_shared_dict "dogs" resized from 1048576 to 2097152 bytes: kept 4 of 4 entries, 0 dropped \(0 evicted, 0 did not fit\)/
--- no_error_log
[error]
[warn]



=== TEST 3: shdict resize: 300 entries and one of the oldest touched again
--- http_config
    lua_shared_dict dogs 2m;
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.dogs
            local v = string.rep("v", 200)
            for i = 1, 300 do
                assert(d:set(string.format("k%03d", i), v))
            end
            assert(d:get("k001") == v)
            ngx.say("keys: ", #d:get_keys(0))
        }
    }
--- request
GET /t
--- response_body
keys: 303
--- no_error_log
[error]



=== TEST 4: shdict resize: a shrunk zone keeps the most recently used entries, evicts the others oldest first and logs how many
--- http_config
    lua_shared_dict dogs 16k;
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.dogs
            ngx.say("capacity: ", d:capacity())
            ngx.say("touched k001 kept: ", d:get("k001") ~= nil)
            ngx.say("older entries gone: ", d:get("num"), " ", d:get("str"), " ", d:get("list"))
            -- The survivors among k002..k300 are the newest ones, with no gap.
            local first
            for i = 2, 300 do
                local kept = d:get(string.format("k%03d", i)) ~= nil
                if kept and not first then first = i end
                if first and not kept then ngx.say("gap at ", i) return end
            end
            local kept = 300 - first + 2
            ngx.say("newest kept: ", first > 2 and first <= 300, ", some: ", kept > 5)
            ngx.say("keys: ", #d:get_keys(0) == kept)
            -- The master's log line counts what was kept and dropped.
            local f = assert(io.open(ngx.config.prefix() .. "logs/error.log"))
            local log = f:read("*a")
            f:close()
            local k, n, dropped
            for a, b, c in log:gmatch('lua_shared_dict "dogs" resized from 2097152 to 16384 bytes: kept (%d+) of (%d+) entries, (%d+) dropped') do
                k, n, dropped = tonumber(a), tonumber(b), tonumber(c)
            end
            ngx.say("logged: ", k == kept, " ", n, " ", dropped == n - kept)
        }
    }
--- request
GET /t
--- response_body
capacity: 16384
touched k001 kept: true
older entries gone: nil nil nil
newest kept: true, some: true
keys: true
logged: true 303 true
--- error_log eval
qr/\[warn\] .*lua_shared_dict "dogs" resized from 2097152 to 16384 bytes: kept \d+ of 303 entries, \d+ dropped \(\d+ evicted, 0 did not fit\)/
--- no_error_log
[error]



=== TEST 5: shdict resize: a renamed zone is a new, empty zone
--- http_config
    lua_shared_dict cats 16k;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("dogs: ", ngx.shared.dogs)
            ngx.say("cats: ", #ngx.shared.cats:get_keys(0), " ", ngx.shared.cats:get("k001"))
            ngx.shared.cats:set("a", 1)
        }
    }
--- request
GET /t
--- response_body
dogs: nil
cats: 0 nil
--- no_error_log
[error]
resized



=== TEST 6: shdict resize: a zone grows again; one a reload dropped comes back empty
--- http_config
    lua_shared_dict cats 64k;
    lua_shared_dict dogs 16k;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("cats: ", ngx.shared.cats:get("a"), " ", ngx.shared.cats:capacity())
            ngx.say("dogs: ", #ngx.shared.dogs:get_keys(0))
        }
    }
--- request
GET /t
--- response_body
cats: 1 65536
dogs: 0
--- error_log
lua_shared_dict "cats" resized from 16384 to 65536 bytes: kept 1 of 1 entries, 0 dropped
--- no_error_log
[error]
lua_shared_dict "dogs" resized
