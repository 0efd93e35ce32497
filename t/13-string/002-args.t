# ngx.encode_args, ngx.decode_args.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.encode_args: strings, numbers and escaping
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.encode_args({ a = "hello world" }))
            ngx.say(ngx.encode_args({ ["k&y"] = "v=1/2" }))
            ngx.say(ngx.encode_args({ n = 3.25 }))
            ngx.say("[", ngx.encode_args({}), "]")
            local parts = {}
            for p in ngx.encode_args({ a = 1, b = 2, c = 3 }):gmatch("[^&]+") do
                parts[#parts + 1] = p
            end
            table.sort(parts)
            ngx.say(table.concat(parts, " "))
        }
    }
--- request
GET /t
--- response_body
a=hello%20world
k%26y=v%3D1%2F2
n=3.25
[]
a=1 b=2 c=3
--- no_error_log
[error]



=== TEST 2: ngx.encode_args: booleans and multi-value tables
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.encode_args({ a = true }))
            ngx.say("[", ngx.encode_args({ a = false }), "]")
            ngx.say(ngx.encode_args({ a = { 1, "x y", true, false, "z" } }))
            ngx.say("[", ngx.encode_args({ a = {} }), "]")
        }
    }
--- request
GET /t
--- response_body
a
[]
a=1&a=x%20y&a&a=z
[]
--- no_error_log
[error]



=== TEST 3: ngx.encode_args: bad arguments raise upstream's errors
--- config
    location = /t {
        content_by_lua_block {
            local function try(...)
                local ok, err = pcall(ngx.encode_args, ...)
                ngx.say(ok, " ", (tostring(err):gsub("^.-:%d+: ", "")))
            end
            try("a=b")
            try({ [1] = "x" })
            try({ a = print })
            try({ a = { {} } })
            try({ a = 1 }, 2)
            try()
            local ok, err = pcall(ngx.decode_args)
            ngx.say(ok, " ", (tostring(err):gsub("^.-:%d+: ", "")))
            -- Named as the caller called it, as luaL_argerror names a C
            -- function: '?' through pcall, the field or the local's name;
            -- the position is the caller's line.
            local function show(err)
                ngx.say((err:gsub("^content_by_lua%b():(%d+): ", "line %1: ")))
            end
            ok, err = pcall(function() local s = ngx.encode_args(true) return s end)
            show(err)
            local dec = ngx.decode_args
            ok, err = pcall(function() local t = dec("a", {}) return t end)
            show(err)
            show(select(2, pcall(ngx.decode_args, "a", "x")))
        }
    }
--- request
GET /t
--- response_body
false bad argument #1 to '?' (table expected, got string)
false attempt to use a non-string key in the "args" option table
false attempt to use function as query arg value
false attempt to use table as query arg value
false expecting 1 argument but seen 2
false expecting 1 argument but seen 0
false expecting 1 or 2 arguments but seen 0
line 20: bad argument #1 to 'encode_args' (table expected, got boolean)
line 23: bad argument #2 to 'dec' (number expected, got table)
bad argument #2 to '?' (number expected, got string)
--- no_error_log
[error]



=== TEST 4: ngx.decode_args: pairs, bare keys, duplicates, escapes
--- config
    location = /t {
        content_by_lua_block {
            local args = ngx.decode_args("a=1&b&c=&d=x%20y+z&=e&&f=g=h&a=2&a")
            local keys = {}
            for k in pairs(args) do keys[#keys + 1] = k end
            table.sort(keys)
            for _, k in ipairs(keys) do
                local v = args[k]
                if type(v) == "table" then
                    local t = {}
                    for i, x in ipairs(v) do t[i] = tostring(x) end
                    v = "{" .. table.concat(t, ",") .. "}"
                end
                ngx.say(k, " = ", tostring(v))
            end
        }
    }
--- request
GET /t
--- response_body
a = {1,2,true}
b = true
c = 
d = x y z
f = g=h
--- no_error_log
[error]



=== TEST 5: ngx.decode_args: max_args, truncation and 0 for no limit
--- config
    location = /t {
        content_by_lua_block {
            local function count(t)
                local n = 0
                for _, v in pairs(t) do
                    n = n + (type(v) == "table" and #v or 1)
                end
                return n
            end
            local many = string.rep("x=1&", 150) .. "y=2"
            local t, err = ngx.decode_args(many)
            ngx.say(count(t), " ", err)
            t, err = ngx.decode_args(many, 0)
            ngx.say(count(t), " ", err)
            t, err = ngx.decode_args("a=1&b=2&c=3", 2)
            ngx.say(count(t), " ", err, " ", t.c)
            t, err = ngx.decode_args("a=1&b=2", 2)
            ngx.say(count(t), " ", err)
        }
    }
--- request
GET /t
--- response_body
100 truncated
151 nil
2 truncated nil
2 nil
--- no_error_log
[error]



=== TEST 6: ngx.decode_args: malformed and empty input never fails
--- config
    location = /t {
        content_by_lua_block {
            for _, s in ipairs({ "", "&", "=", "&&&", "%", "%%", "a=%zz", "===",
                                 "\0=\255", 42 }) do
                local t = ngx.decode_args(s)
                local n = 0
                for k, v in pairs(t) do n = n + 1 end
                ngx.say(type(t), " ", n)
            end
            local ok, err = pcall(ngx.decode_args, nil)
            ngx.say(ok, " ", (tostring(err):gsub("^.-:%d+: ", "")))
            ok, err = pcall(ngx.decode_args, "a", "b")
            ngx.say(ok, " ", (tostring(err):gsub("^.-:%d+: ", "")))
        }
    }
--- request
GET /t
--- response_body
table 0
table 0
table 0
table 0
table 1
table 1
table 1
table 0
table 1
table 1
false bad argument #1 to '?' (string expected, got nil)
false bad argument #2 to '?' (number expected, got string)
--- no_error_log
[error]



=== TEST 7: ngx.encode_args / ngx.decode_args round trip
--- config
    location = /t {
        content_by_lua_block {
            local src = { ["a b"] = "c&d=e", ["\1\255"] = "%+", k = { "1", "2" } }
            local back = ngx.decode_args(ngx.encode_args(src))
            ngx.say(back["a b"], " ", back["\1\255"], " ", back.k[1], back.k[2])
        }
    }
--- request
GET /t
--- response_body
c&d=e %+ 12
--- no_error_log
[error]



=== TEST 6: encode_args: one set of rules for ngx.encode_args, set_uri_args, ngx.exec and capture args
--- config
    location = /t {
        content_by_lua_block {
            local cases = {
                { a = "x y", b = { 1, true, false, "z" }, c = true, d = false },
                { [1] = "x" },
                { a = ngx.null },
                { a = { {} } },
            }
            local function strip(e)
                return (tostring(e):gsub("^.-:%d+: ", ""))
            end
            for i, t in ipairs(cases) do
                local ok, s = pcall(ngx.encode_args, t)
                local parts = {}
                if ok then
                    for p in s:gmatch("[^&]+") do parts[#parts + 1] = p end
                    table.sort(parts)
                    s = table.concat(parts, "&")
                end
                ngx.say(i, " encode_args: ", ok and s or strip(s))
                ok, s = pcall(ngx.req.set_uri_args, t)
                ngx.say(i, " set_uri_args: ", ok and "ok" or strip(s))
                ok, s = pcall(ngx.location.capture, "/sub", { args = t })
                ngx.say(i, " capture: ", ok and "ok" or strip(s))
            end
        }
    }
    location = /sub {
        content_by_lua_block { ngx.print(ngx.var.args) }
    }
--- request
GET /t
--- response_body
1 encode_args: a=x%20y&b&b=1&b=z&c
1 set_uri_args: ok
1 capture: ok
2 encode_args: attempt to use a non-string key in the "args" option table
2 set_uri_args: attempt to use a non-string key in the "args" option table
2 capture: attempt to use a non-string key in the "args" option table
3 encode_args: attempt to use userdata as query arg value
3 set_uri_args: attempt to use userdata as query arg value
3 capture: attempt to use userdata as query arg value
4 encode_args: attempt to use table as query arg value
4 set_uri_args: attempt to use table as query arg value
4 capture: attempt to use table as query arg value
--- no_error_log
[error]



=== TEST 7: encode_args: ngx.exec refuses the same tables with the same texts
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(ngx.exec, "/sub", { [2] = "x" })
            ngx.exec("/sub", { e = (tostring(err):gsub("^.-:%d+: ", "")) })
        }
    }
    location = /sub {
        content_by_lua_block { ngx.say(ngx.unescape_uri(ngx.var.arg_e)) }
    }
--- request
GET /t
--- response_body
attempt to use a non-string key in the "args" option table
--- no_error_log
[error]
