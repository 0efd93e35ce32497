# ngx.shared.DICT: every method, its returns and its error strings.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan tests => repeat_each() * (blocks() * 3);
run_tests();

__DATA__

=== TEST 1: shdict: set and get of every value type, with flags
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            dogs:flush_all()
            ngx.say(dogs:set("str", "hello"))
            ngx.say(dogs:set("num", 3.25, 0, 7))
            ngx.say(dogs:set("yes", true))
            ngx.say(dogs:set("no", false))
            ngx.say(dogs:set("empty", ""))
            ngx.say(dogs:get("str"))
            ngx.say(dogs:get("num"))
            ngx.say(type(dogs:get("yes")), " ", dogs:get("yes"), " ", dogs:get("no"))
            ngx.say("[", dogs:get("empty"), "]")
            ngx.say(dogs:get("missing"))
            ngx.say(dogs:get(32), " ", dogs:set(32, "thirty-two"), " ", dogs:get(32))
            local big = string.rep("abc", 5000)
            ngx.say(dogs:set("big", big), " ", dogs:get("big") == big)
        }
    }
--- request
GET /t
--- response_body
truenilfalse
truenilfalse
truenilfalse
truenilfalse
truenilfalse
hello
3.257
boolean true false
[]
nil
nil true thirty-two
true true
--- no_error_log
[error]



=== TEST 2: shdict: overwrite with other sizes and types, delete
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            dogs:set("k", "12345678")
            dogs:set("k", 1.5)          -- same size, other type
            ngx.say(dogs:get("k"))
            dogs:set("k", "a longer string value")
            ngx.say(dogs:get("k"))
            ngx.say(dogs:delete("k"))
            ngx.say(dogs:get("k"))
            ngx.say(dogs:delete("never-there"))
            dogs:set("k", "v")
            dogs:set("k", nil)
            ngx.say(dogs:get("k"))
        }
    }
--- request
GET /t
--- response_body
1.5
a longer string value
truenilfalse
nil
truenilfalse
nil
--- no_error_log
[error]



=== TEST 3: shdict: add and replace, safe_add, safe_set
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            dogs:flush_all()
            ngx.say(dogs:replace("k", 1))
            ngx.say(dogs:add("k", 1))
            ngx.say(dogs:add("k", 2))
            ngx.say(dogs:safe_add("k", 2))
            ngx.say(dogs:replace("k", 3, 0, 9))
            ngx.say(dogs:get("k"))
            ngx.say(dogs:safe_set("k", "s"))
            ngx.say(dogs:safe_add("k2", "s"))
            ngx.say(dogs:add("k3", nil))
            ngx.say(dogs:replace("k", nil))
        }
    }
--- request
GET /t
--- response_body
falsenot foundfalse
truenilfalse
falseexistsfalse
falseexistsfalse
truenilfalse
39
truenilfalse
truenilfalse
falseattempt to add or replace nil valuesfalse
falseattempt to add or replace nil valuesfalse
--- no_error_log
[error]



=== TEST 4: shdict: key and value errors
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            local long = string.rep("k", 65536)
            ngx.say(dogs:set(nil, 1))
            ngx.say(dogs:set("", 1))
            ngx.say(dogs:set(long, 1))
            ngx.say(dogs:get(nil))
            ngx.say(dogs:get(""))
            ngx.say(dogs:get(long))
            ngx.say(dogs:incr(nil, 1))
            ngx.say(dogs:set("k", {}))
            ngx.say(dogs:ttl(""))
            ngx.say(dogs:expire(nil, 1))
            ngx.say(dogs:set(string.rep("k", 65535), 1))
            local function e(ok, err) return ok, (err:gsub("^.-:%d+: ", "")) end
            ngx.say(e(pcall(dogs.set, dogs, "k", 1, -1)))
            ngx.say(e(pcall(dogs.get, {}, "k")))
            ngx.say(e(pcall(dogs.get, nil, "k")))
            ngx.say(e(pcall(dogs.expire, dogs, "k")))
        }
    }
--- request
GET /t
--- response_body
nilnil key
nilempty key
nilkey too long
nilnil key
nilempty key
nilkey too long
nilnil key
nilbad value type
nilempty key
nilnil key
truenilfalse
falsebad "exptime" argument
falsebad "zone" argument
falsebad "zone" argument
falsebad "exptime" argument
--- no_error_log
[error]



=== TEST 5: shdict: incr, with init and init_ttl
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            dogs:flush_all()
            ngx.say(dogs:incr("n", 1))
            ngx.say(dogs:incr("n", 1, 10))
            ngx.say(dogs:incr("n", -2.5))
            ngx.say(dogs:incr("n", "3"))
            dogs:set("s", "str")
            ngx.say(dogs:incr("s", 1))
            ngx.say(dogs:incr("s", 1, 0))
            ngx.say(dogs:incr("t", 1, 0, 10))
            ngx.say(dogs:ttl("t") > 9)
            local function e(ok, err) return ok, (err:gsub("^.-:%d+: ", "")) end
            ngx.say(e(pcall(dogs.incr, dogs, "t", 1, nil, 10)))
            ngx.say(e(pcall(dogs.incr, dogs, "t", 1, 0, -1)))
            ngx.say(e(pcall(dogs.incr, dogs, "t", 1, {})))
        }
    }
--- request
GET /t
--- response_body
nilnot found
11nilfalse
8.5
11.5
nilnot a number
nilnot a number
1nilfalse
true
falsemust provide "init" when providing "init_ttl"
falsebad "init_ttl" argument
falsebad init arg: number expected, got table
--- no_error_log
[error]



=== TEST 6: shdict: get_keys, flush_all, flush_expired, capacity, free_space
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            dogs:flush_all()
            dogs:flush_expired()
            for i = 1, 5 do dogs:set("k" .. i, i) end
            ngx.say(table.concat(dogs:get_keys(), " "))
            ngx.say(table.concat(dogs:get_keys(2), " "))
            ngx.say(#dogs:get_keys(0))
            dogs:get("k1")
            ngx.say(table.concat(dogs:get_keys(), " "))
            ngx.say(dogs:capacity(), " ", dogs:free_space() > 0, " ", dogs:free_space() < 1048576)
            -- flush_all marks everything expired and frees three entries
            -- from the LRU tail; flush_expired frees the rest.
            dogs:flush_all()
            ngx.say(#dogs:get_keys())
            ngx.say(dogs:flush_expired(1))
            ngx.say(dogs:flush_expired())
            ngx.say(dogs:flush_expired(), " ", dogs:get("k3"))
            local function e(ok, err) return ok, (err:gsub("^.-:%d+: ", "")) end
            ngx.say(e(pcall(dogs.get_keys, dogs, 1, 2)))
        }
    }
--- request
GET /t
--- response_body
k1 k2 k3 k4 k5
k1 k2
5
k2 k3 k4 k5 k1
1048576 true true
0
1
1
0 nil
falseexpecting 1 or 2 argument(s), but saw 3
--- no_error_log
[error]



=== TEST 7: shdict: several dicts, unknown names, ngx.shared in init_by_lua
--- http_config
    lua_shared_dict dogs 1m;
    lua_shared_dict cats 16k;
    init_by_lua_block {
        ngx.shared.dogs:set("from", "init")
        ngx.shared.cats:set("n", 1)
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.shared.dogs:get("from"), " ", ngx.shared.cats:get("n"),
                    " ", ngx.shared.dogs:get("n"), " ", ngx.shared.birds)
            ngx.say(getmetatable(ngx.shared.dogs) == getmetatable(ngx.shared.cats))
            local n = 0
            for name in pairs(ngx.shared) do n = n + 1 end
            ngx.say(n, " ", ngx.shared.cats:capacity())
        }
    }
--- request
GET /t
--- response_body
init 1 nil nil
true
2 16384
--- no_error_log
[error]
