# OpenResty LuaJIT's table extras on a stock LuaJIT: table.nkeys,
# table.isempty, table.isarray, table.clone; table.new and table.clear.
use Test::Nginx::Socket::Lua;

plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: table.nkeys: array and hash parts, nil values not counted
--- config
    location = /t {
        content_by_lua_block {
            local nkeys = require "table.nkeys"
            ngx.say(nkeys({}), " ", nkeys({ "a", nil, "b" }), " ",
                    nkeys({ dog = 3, cat = 4, bird = nil }), " ",
                    nkeys({ "a", dog = 3, cat = 4 }))
            local t = require("table.new")(100, 100)
            for i = 1, 100 do t[i] = i; t["k" .. i] = i end
            for i = 1, 100, 2 do t[i] = nil; t["k" .. i] = nil end
            ngx.say(nkeys(t))
            local ok, err = pcall(nkeys, nil)
            ngx.say(err)
        }
    }
--- request
GET /t
--- response_body_like chomp
\A0 2 2 3
100
.*bad argument #1 to 'nkeys' \(table expected, got nil\)
\z
--- no_error_log
[error]



=== TEST 2: table.isempty: only nil values is empty
--- config
    location = /t {
        content_by_lua_block {
            local isempty = require "table.isempty"
            local t = { 1 }
            t[1] = nil
            ngx.say(isempty({}), " ", isempty({ nil, dog = nil }), " ", isempty(t), " ",
                    isempty({ "a", "b" }), " ", isempty({ nil, 3 }), " ", isempty({ cat = 3 }))
            local ok, err = pcall(isempty, "x")
            ngx.say(err)
        }
    }
--- request
GET /t
--- response_body_like chomp
\Atrue true true false false false
.*bad argument #1 to 'isempty' \(table expected, got string\)
\z
--- no_error_log
[error]



=== TEST 3: table.isarray: every key an integral number, holes allowed
--- config
    location = /t {
        content_by_lua_block {
            local isarray = require "table.isarray"
            ngx.say(isarray({ "a", true, 3.14 }), " ", isarray({ dog = 3 }), " ",
                    isarray({}), " ", isarray({ 1, nil, 3 }), " ", isarray({ [0] = 1, [-2] = 2 }), " ",
                    isarray({ [1.5] = 1 }), " ", isarray({ 1, 2, x = 1 }), " ",
                    isarray({ [2^40] = 1 }))
        }
    }
--- request
GET /t
--- response_body
true false true true true false false true
--- no_error_log
[error]



=== TEST 4: table.clone: a shallow copy without the metatable
--- config
    location = /t {
        content_by_lua_block {
            local clone = require "table.clone"
            local inner = { 5, 6, 7 }
            local x = setmetatable({ 1, 2, 3, x = 12, y = inner, [0] = "zero", [2.5] = "f" }, {})
            local y = clone(x)
            ngx.say(y ~= x, " ", y.y == inner, " ", #y, " ", y.x, " ", y[0], " ", y[2.5], " ",
                    getmetatable(y) == nil, " ", require("table.nkeys")(y))
            y[1] = "changed"
            ngx.say(x[1])
            ngx.say(require("table.nkeys")(clone({})))
        }
    }
--- request
GET /t
--- response_body
true true 3 12 zero f true 7
1
0
--- no_error_log
[error]



=== TEST 5: table.new and table.clear keep working
--- config
    location = /t {
        content_by_lua_block {
            local new, clear = require "table.new", require "table.clear"
            local t = new(10, 5)
            t[1], t.a = 1, 2
            clear(t)
            ngx.say(next(t), " ", type(new), " ", type(clear))
        }
    }
--- request
GET /t
--- response_body
nil function function
--- no_error_log
[error]



=== TEST 6: table.nkeys: the same answer on every call of a hot loop
--- config
    location = /t {
        content_by_lua_block {
            local nkeys = require "table.nkeys"
            local t = { 1, 2, a = 3 }
            local n = 0
            for i = 1, 1000 do n = n + nkeys(t) end
            ngx.say(n)
        }
    }
--- request
GET /t
--- response_body
3000
--- no_error_log
[error]
