# ngx.shared.DICT: expiry (ttl, expire, get_stale, init_ttl) and lists.
use Test::Nginx::Socket::Lua;

plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: shdict: values expire, get_stale still sees them
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            dogs:set("k", "v", 0.1, 5)
            dogs:set("forever", 1)
            ngx.say(dogs:get("k"))
            local ttl = dogs:ttl("k")
            ngx.say(ttl > 0 and ttl <= 0.1, " ", dogs:ttl("forever"))
            ngx.sleep(0.15)
            ngx.say(dogs:get_stale("k"))
            ngx.say(dogs:get("k"))
            ngx.say(dogs:get_stale("forever"))
            ngx.say(dogs:get("forever"))
        }
    }
--- request
GET /t
--- response_body
v5
true 0
v5true
nil
1nilfalse
1
--- no_error_log
[error]



=== TEST 2: shdict: expire sets, extends and clears the ttl
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            dogs:set("a", 1)
            ngx.say(dogs:expire("a", 0.1))
            ngx.say(dogs:ttl("a") <= 0.1)
            ngx.say(dogs:expire("a", 0))
            ngx.say(dogs:ttl("a"))
            ngx.say(dogs:expire("nope", 1))
            ngx.say(dogs:ttl("nope"))
            dogs:set("b", 1, 0.05)
            ngx.say(dogs:expire("b", 10))
            ngx.sleep(0.1)
            ngx.say(dogs:get("b"))
            dogs:set("c", 1, 0.01)
            ngx.sleep(0.05)
            ngx.say(dogs:ttl("c") < 0, " ", dogs:add("c", 2), " ", dogs:get("c"))
        }
    }
--- request
GET /t
--- response_body
true
true
true
0
nilnot found
nilnot found
true
1
true true 2
--- no_error_log
[error]



=== TEST 3: shdict: incr init_ttl starts a ttl only for a new value
--- no_hup
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            ngx.say(dogs:incr("c", 1, 0, 0.1))
            ngx.say(dogs:incr("c", 1, 0, 10))
            ngx.say(dogs:ttl("c") <= 0.1)
            ngx.sleep(0.15)
            ngx.say(dogs:incr("c", 1))
            ngx.say(dogs:incr("c", 1, 100))
            ngx.say(dogs:ttl("c"))
        }
    }
--- request
GET /t
--- response_body
1nilfalse
2nilfalse
true
nilnot found
101nilfalse
0
--- no_error_log
[error]



=== TEST 4: shdict: lpush, rpush, lpop, rpop, llen
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            ngx.say(dogs:lpush("l", "b"))
            ngx.say(dogs:lpush("l", "a"))
            ngx.say(dogs:rpush("l", 3))
            ngx.say(dogs:rpush("l", string.rep("x", 5000)) )
            ngx.say(dogs:llen("l"))
            ngx.say(#dogs:rpop("l"))
            ngx.say(dogs:lpop("l"), " ", dogs:rpop("l"), " ", type(dogs:rpop("l")))
            ngx.say(dogs:lpop("l"))
            ngx.say(dogs:llen("l"))
            ngx.say(dogs:llen("never"))
            ngx.say(dogs:rpop("never"))
        }
    }
--- request
GET /t
--- response_body
1
2
3
4
4
5000
a 3 string
nil
0
0
nil
--- no_error_log
[error]



=== TEST 5: shdict: list errors and lists among plain values
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            local function e(ok, err) return ok, (err:gsub("^.-:%d+: ", "")) end
            dogs:set("plain", 1)
            ngx.say(dogs:lpush("plain", 1))
            ngx.say(dogs:lpop("plain"))
            ngx.say(dogs:llen("plain"))
            dogs:rpush("list", "x")
            ngx.say(dogs:get("list"))
            ngx.say(dogs:incr("list", 1))
            ngx.say(dogs:lpush("list", true))
            ngx.say(dogs:lpush(nil, 1))
            ngx.say(dogs:lpush("", 1))
            ngx.say(e(pcall(dogs.lpush, dogs, "list")))
            ngx.say(e(pcall(dogs.lpop, dogs)))
            ngx.say(e(pcall(dogs.rpush, dogs, {}, 1)))
            -- set replaces a list; a list push replaces an expired value
            ngx.say(dogs:set("list", "now plain"), " ", dogs:get("list"))
            dogs:set("old", "v", 0.01)
            ngx.sleep(0.05)
            ngx.say(dogs:rpush("old", "item"), " ", dogs:lpop("old"))
            dogs:rpush("exp", 1)
            dogs:expire("exp", 0.01)
            ngx.sleep(0.05)
            ngx.say(dogs:rpush("exp", 2), " ", dogs:llen("exp"))
        }
    }
--- request
GET /t
--- response_body
nilvalue not a list
nilvalue not a list
nilvalue not a list
nilvalue is a list
nilnot a number
nilbad value type
nilnil key
nilempty key
falseexpecting 3 arguments, but only seen 2
falseexpecting 2 arguments, but only seen 1
falsebad argument #1 to 'rpush' (string expected, got table)
true now plain
1 item
1 1
--- no_error_log
[error]
