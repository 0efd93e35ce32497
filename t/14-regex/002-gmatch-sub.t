# ngx.re.gmatch, ngx.re.sub, ngx.re.gsub.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.re.gmatch: iterates over every match
--- config
    location = /t {
        content_by_lua_block {
            for m in ngx.re.gmatch("hello, world 42", "([a-z]+)|(\\d+)") do
                ngx.say(m[0], " ", m[1], " ", m[2])
            end
            local it = ngx.re.gmatch("a1", "\\d", "jo")
            ngx.say(it()[0], " ", it(), " ", it())
        }
    }
--- request
GET /t
--- response_body
hello hello false
world world false
42 false 42
1 nil nil
--- no_error_log
[error]



=== TEST 2: ngx.re.gmatch: empty matches advance one character
--- config
    location = /t {
        content_by_lua_block {
            local out = {}
            for m in ngx.re.gmatch("abc", "") do out[#out + 1] = "[" .. m[0] .. "]" end
            ngx.say(#out, " ", table.concat(out))
            out = {}
            for m in ngx.re.gmatch("ab1", "\\d*") do out[#out + 1] = "[" .. m[0] .. "]" end
            ngx.say(table.concat(out))
            out = {}
            for m in ngx.re.gmatch("h\195\169!", "", "u") do out[#out + 1] = "." end
            ngx.say(#out)
            out = {}
            for m in ngx.re.gmatch("", "x*") do out[#out + 1] = "[" .. m[0] .. "]" end
            ngx.say(table.concat(out))
        }
    }
--- request
GET /t
--- response_body
4 [][][][]
[][][1][]
4
[]
--- no_error_log
[error]



=== TEST 3: ngx.re.gmatch: named captures and invalid UTF-8 with u
--- config
    location = /t {
        content_by_lua_block {
            for m in ngx.re.gmatch("k1=v1,k2=v2", "(?<k>\\w+)=(?<v>\\w+)") do
                ngx.say(m.k, " -> ", m.v)
            end
            local it = ngx.re.gmatch("ab\255", "b", "u")
            local m, err = it()
            ngx.say(m, " ", err)
            ngx.say(it())
        }
    }
--- request
GET /t
--- response_body_like chomp
^k1 -> v1
k2 -> v2
nil pcre_exec\(\) failed: -\d+
nil$
--- no_error_log
[error]



=== TEST 4: ngx.re.sub: templates $0, $N, ${N}, $$ and named captures
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.sub("hello, 1234", "([0-9])[0-9]", "[$0][$1]"))
            ngx.say(ngx.re.sub("hello, 1234", "[0-9]", "${0}00"))
            ngx.say(ngx.re.sub("hello, 1234", "[0-9]", "$$"))
            ngx.say(ngx.re.sub("hello, 1234", "(?<d>[0-9])", "<${d}|$d>"))
            ngx.say(ngx.re.sub("hello, 1234", "([0-9])(x)?", "[$2$9]"))
            ngx.say(ngx.re.sub("hello", "[0-9]", "x"))
            ngx.say(ngx.re.sub("hello", "l", 7))
        }
    }
--- request
GET /t
--- response_body
hello, [12][1]341
hello, 1002341
hello, $2341
hello, <1|1>2341
hello, []2341
hello0
he7lo1
--- no_error_log
[error]



=== TEST 5: ngx.re.sub: bad templates fail with upstream's message
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.sub("abc", "b", "$"))
            ngx.say(ngx.re.sub("abc", "b", "${1"))
            ngx.say(ngx.re.gsub("abc", "b", "$ x"))
            ngx.say(ngx.re.gsub("abc", "b", "$nosuch", "o"))
            ngx.say(ngx.re.gsub("abc", "b", "${"))
        }
    }
--- request
GET /t
--- response_body
nilnilfailed to compile the replacement template
nilnilfailed to compile the replacement template
nilnilfailed to compile the replacement template
nilnilfailed to compile the replacement template
nilnilfailed to compile the replacement template
--- error_log
invalid capturing variable name found in "$"
the closing bracket in "1" variable is missing
invalid capturing variable name found in "${"
attempt to use named capturing variable "nosuch" (named captures not supported yet)



=== TEST 6: ngx.re.gsub: every match, with templates and functions
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.gsub("hello, world", "([a-z])[a-z]+", "[$0,$1]"))
            ngx.say(ngx.re.gsub("hello, world", "([a-z])[a-z]+", "[$0,$1]", "jo"))
            ngx.say(ngx.re.gsub("hello, world", "([a-z])[a-z]+", function(m)
                return "[" .. m[0] .. "," .. m[1] .. "]"
            end))
            ngx.say(ngx.re.gsub("a1b2", "\\d", function(m) return tonumber(m[0]) * 2 end))
            ngx.say(ngx.re.gsub("a$b", "\\$", function() return "$1" end))
            ngx.say(ngx.re.gsub("abc", "z", "x"))
        }
    }
--- request
GET /t
--- response_body
[hello,h], [world,w]2
[hello,h], [world,w]2
[hello,h], [world,w]2
a2b42
a$1b1
abc0
--- no_error_log
[error]



=== TEST 7: ngx.re.gsub: empty matches
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.gsub("abc", "", "-"))
            ngx.say(ngx.re.gsub("abc", "x*", "-"))
            ngx.say(ngx.re.gsub("abc", "b*", "-"))
            ngx.say(ngx.re.gsub("", "", "-"))
            ngx.say(ngx.re.gsub("abc", "", function() return "-" end))
            ngx.say(ngx.re.gsub("h\195\169", "", "-", "u"))
            ngx.say(ngx.re.gsub("h\195\169", "", function() return "-" end, "u"))
        }
    }
--- request
GET /t
--- response_body
-a-b-c-4
-a-b-c-4
-a--c-4
-1
-a-b-c-4
-h-é-3
-h-é-3
--- no_error_log
[error]



=== TEST 8: ngx.re.gsub: backtracking limit and invalid UTF-8 are errors
--- http_config
    lua_regex_match_limit 5000;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.gsub(string.rep("a", 30) .. "!", "^(a+)+$", "x"))
            ngx.say(ngx.re.gsub("a\255", "a", "x", "u"))
            ngx.say(ngx.re.gsub("a\255", "a", function() return "x" end, "u"))
            ngx.say(ngx.re.gsub("a\255", "a", "x"))
        }
    }
--- request
GET /t
--- response_body_like chomp
^nilnilpcre_exec\(\) failed: -47
nilnilpcre_exec\(\) failed: -\d+
nilnilpcre_exec\(\) failed: -\d+
x\xff1$
--- no_error_log
[error]



=== TEST 9: ngx.re.gsub: long subjects, big results
--- config
    location = /t {
        content_by_lua_block {
            local s = string.rep("abc ", 250000)
            local r, n = ngx.re.gsub(s, "b", "BBBB", "jo")
            ngx.say(#r, " ", n, " ", r:sub(1, 12))
            r, n = ngx.re.gsub(s, "(\\w+)", function(m) return m[1]:upper() end, "jo")
            ngx.say(#r, " ", n, " ", r:sub(1, 8))
            r, n = ngx.re.sub(s, "c $", "!", "jo")
            ngx.say(#r, " ", n, " ", r:sub(-4))
        }
    }
--- request
GET /t
--- response_body
1750000 250000 aBBBBc aBBBB
1000000 250000 ABC ABC 
999999 1  ab!
--- no_error_log
[error]



=== TEST 10: ngx.re.gsub: the replacement function may call ngx.re again
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.gsub("a-b c-d", "\\w-\\w", function(m)
                return (ngx.re.gsub(m[0], "-", "+", "jo"))
            end, "jo"))
        }
    }
--- request
GET /t
--- response_body
a+b c+d2
--- no_error_log
[error]



=== TEST 11: gmatch: a loop that calls gmatch and its iterator compiles to a looping trace (the iterator is a callable table, as upstream's)
--- config
    location = /t {
        content_by_lua_block {
            local jutil = require "jit.util"
            local main = debug.getinfo(1, "f").func
            local started, loops = {}, 0
            local function on_trace(what, tr, func)
                if what == "start" then
                    started[tr] = func == main
                elseif what == "stop" and started[tr]
                       and jutil.traceinfo(tr).linktype == "loop" then
                    loops = loops + 1
                end
            end
            jit.attach(on_trace, "trace")
            jit.opt.start("hotloop=10")
            local gmatch = ngx.re.gmatch
            local m1, m2
            for _ = 1, 200 do
                local it = gmatch("hello, world", [[\w+]])
                m1 = it()
                m2 = it()
            end
            jit.attach(on_trace)
            ngx.say(type(gmatch("a", "a")), " ", m1[0], " ", m2[0], " ", loops > 0)
        }
    }
--- request
GET /t
--- response_body
table hello world true
--- no_error_log
[error]
