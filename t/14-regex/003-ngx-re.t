# require "ngx.re": split, opt.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.re.split: fields between matches
--- config
    location = /t {
        content_by_lua_block {
            local split = require("ngx.re").split
            local function show(t, err)
                if not t then return ngx.say("nil ", err) end
                ngx.say(#t, " ", table.concat(t, "|"))
            end
            show(split("a,b,c", ","))
            show(split("a, b ,c", "\\s*,\\s*", "jo"))
            show(split(",a,,b,,", ","))
            show(split("abc", ""))
            show(split("", ","))
            show(split("abc", "x"))
            show(split("a1b2c", "(\\d)"))
            show(split("a,b", "("))
        }
    }
--- request
GET /t
--- response_body
3 a|b|c
3 a|b|c
4 |a||b
3 a|b|c
0 
1 abc
5 a|1|b|2|c
nil pcre2_compile() failed: missing closing parenthesis in "("
--- no_error_log
[error]



=== TEST 2: ngx.re.split: max, ctx.pos and the res table
--- config
    location = /t {
        content_by_lua_block {
            local split = require("ngx.re").split
            ngx.say(table.concat(split("a,b,c,d", ",", nil, nil, 2), "|"))
            ngx.say(table.concat(split("a,b,c,,", ",", nil, nil, 10), "|"))
            ngx.say(table.concat(split("a,b,c,d", ",", nil, { pos = 3 }), "|"))
            local res = { "x", "y", "z", "w" }
            local r = split("1,2", ",", nil, nil, nil, res)
            ngx.say(r == res, " ", r[1], r[2], " ", tostring(r[3]))
            ngx.say(pcall(split, "a", ",", nil, nil, nil, "bad"))
        }
    }
--- request
GET /t
--- response_body
a|b,c,d
a|b|c||
b|c|d
true 12 nil
falseres is not a table
--- no_error_log
[error]



=== TEST 3: ngx.re.opt: jit_stack_size and unknown options
--- config
    location = /t {
        content_by_lua_block {
            local re = require "ngx.re"
            local s = string.rep("a", 100000)
            local m, err = ngx.re.match(s, "(a|b)*", "j")
            ngx.say(m and #m[0], " ", err)
            re.opt("jit_stack_size", 4 * 1024 * 1024)
            m, err = ngx.re.match(s, "(a|b)*", "j")
            ngx.say(m and #m[0], " ", err)
            ngx.say(pcall(re.opt, "nope", 1))
        }
    }
--- request
GET /t
--- response_body
nil pcre_exec() failed: -46
100000 nil
falseunrecognized option name
--- no_error_log
[error]



=== TEST 4: ngx.re.opt: the JIT stack size may be set under cached regexes once, not changed again, as upstream
--- config
    location = /t {
        content_by_lua_block {
            local re = require "ngx.re"
            ngx.say(ngx.re.find("hello, 1234", "([0-9])", "jo"))
            ngx.say(pcall(re.opt, "jit_stack_size", 128 * 1024))
            ngx.say(pcall(re.opt, "jit_stack_size", 256 * 1024))
            ngx.say(ngx.re.find("hello, 1234", "([0-9])", "jo"))
        }
    }
--- request
GET /t
--- response_body
88
true
falsechanging jit stack size is not allowed when some regexs have already been compiled and cached
88
--- no_error_log
[error]
