# ngx.re.match, ngx.re.find: options, captures, ctx.pos, res reuse, errors.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.re.match: whole match and numbered captures
--- config
    location = /t {
        content_by_lua_block {
            local m = ngx.re.match("hello, 1234", "([0-9])([0-9]+)")
            ngx.say(m[0], " ", m[1], " ", m[2], " ", #m)
            ngx.say(ngx.re.match("hello", "[0-9]"))
            m = ngx.re.match("hello", "(h)(x)?(e)")
            ngx.say(m[1], " ", m[2], " ", m[3])
        }
    }
--- request
GET /t
--- response_body
1234 1 234 2
nil
h false e
--- no_error_log
[error]



=== TEST 2: ngx.re.match: named captures, D collects duplicate names
--- config
    location = /t {
        content_by_lua_block {
            local m = ngx.re.match("hello, 1234", "(?<word>[a-z]+), (?<num>\\d+)")
            ngx.say(m.word, " ", m.num, " ", m[1], " ", m[2])
            m = ngx.re.match("ab", "(?<x>a)(?<x>b)", "D")
            ngx.say(type(m.x), " ", table.concat(m.x, ","))
            m = ngx.re.match("a", "(?<x>a)|(?<x>b)", "D")
            ngx.say(#m.x, " ", m.x[1])
            m = ngx.re.match("b", "(?<x>a)?(?<y>b)")
            ngx.say(m.x, " ", m.y)
        }
    }
--- request
GET /t
--- response_body
hello 1234 hello 1234
table a,b
1 a
false b
--- no_error_log
[error]



=== TEST 3: ngx.re.match: option letters i, m, s, x, a, J
--- config
    location = /t {
        content_by_lua_block {
            local function t(s, re, o)
                local m, err = ngx.re.match(s, re, o)
                return m and m[0] or tostring(err)
            end
            ngx.say(t("HELLO", "hello", "i"), " ", t("HELLO", "hello", ""))
            ngx.say(t("a\nb", "^b", "m"), " ", t("a\nb", "^b"))
            ngx.say(t("a\nb", "a.b", "s"), " ", t("a\nb", "a.b"))
            ngx.say(t("abc", " b  c # comment", "x"))
            ngx.say(t("xabc", "abc", "a"), " ", t("abcx", "abc", "a"))
            ngx.say(t("A", "\\u0041", "J"))
        }
    }
--- request
GET /t
--- response_body
HELLO nil
b nil
a
b nil
bc
nil abc
A
--- no_error_log
[error]



=== TEST 4: ngx.re.match: j, o, d and combinations agree
--- config
    location = /t {
        content_by_lua_block {
            for _, o in ipairs({ "", "j", "o", "jo", "d", "do", "jd", "ijo" }) do
                local m = ngx.re.match("hello, 1234 and 56", "\\d+", o)
                ngx.say(o, ": ", m[0])
            end
            -- DFA reports the longest match and no groups
            local m = ngx.re.match("abcd", "a(b|bcd)", "d")
            ngx.say(m[0], " ", tostring(m[1]))
        }
    }
--- request
GET /t
--- response_body
: 1234
j: 1234
o: 1234
jo: 1234
d: 1234
do: 1234
jd: 1234
ijo: 1234
abcd nil
--- no_error_log
[error]



=== TEST 5: ngx.re.match: unknown option letters raise an error
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(ngx.re.match, "a", "a", "iz")
            ngx.say(ok, " ", err)
            ok, err = pcall(ngx.re.gsub, "a", "a", "b", "Q")
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
false unknown flag "z" (flags "iz")
false unknown flag "Q" (flags "Q")
--- no_error_log
[error]



=== TEST 6: ngx.re.match: compile errors return nil and PCRE2's message
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.match("x", "("))
            ngx.say(ngx.re.match("x", "a)b"))
            ngx.say(ngx.re.find("x", "[a"))
            ngx.say(ngx.re.gmatch("x", "(", "o"))
            ngx.say(ngx.re.sub("x", "(", "y"))
            ngx.say(ngx.re.gsub("x", "*", function() end))
        }
    }
--- request
GET /t
--- response_body
nilpcre2_compile() failed: missing closing parenthesis in "("
nilpcre2_compile() failed: unmatched closing parenthesis in "a)b" at ")b"
nilnilpcre2_compile() failed: missing terminating ] for character class in "[a"
nilpcre2_compile() failed: missing closing parenthesis in "("
nilnilpcre2_compile() failed: missing closing parenthesis in "("
nilnilpcre2_compile() failed: quantifier does not follow a repeatable item in "*" at "*"
--- no_error_log
[error]



=== TEST 7: ngx.re.match: ctx.pos starts the search and moves past the match
--- config
    location = /t {
        content_by_lua_block {
            local ctx = {}
            local m = ngx.re.match("1a22b333", "\\d+", "", ctx)
            ngx.say(m[0], " ", ctx.pos)
            m = ngx.re.match("1a22b333", "\\d+", "", ctx)
            ngx.say(m[0], " ", ctx.pos)
            ctx = { pos = 6 }
            m = ngx.re.match("1a22b333", "\\d+", "", ctx)
            ngx.say(m[0], " ", ctx.pos)
            ctx = { pos = 100 }
            ngx.say(ngx.re.match("1a22b333", "\\d+", "", ctx), " ", ctx.pos)
            ctx = { pos = 3 }
            ngx.say(ngx.re.match("1a22b333", "\\d+", "a", ctx)[0], " ", ngx.re.match("1a22b333", "\\d+", "a", { pos = 2 }))
        }
    }
--- request
GET /t
--- response_body
1 2
22 5
333 9
nil 100
22 nil
--- no_error_log
[error]



=== TEST 8: ngx.re.match: the res table is reused
--- config
    location = /t {
        content_by_lua_block {
            local res = { "stale", "stale", "stale", keep = "me" }
            local m = ngx.re.match("hello, 1234", "([0-9])([0-9])", "jo", nil, res)
            ngx.say(m == res, " ", m[0], " ", m[1], " ", m[2], " ", m[3], " ", m.keep)
        }
    }
--- request
GET /t
--- response_body
true 12 1 2 stale me
--- no_error_log
[error]



=== TEST 9: ngx.re.find: positions, nth capture, ctx
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.find("hello, 1234", "[0-9]+"))
            ngx.say(ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "jo", nil, 2))
            ngx.say(ngx.re.find("hello, 1234", "([0-9])(x)?", "jo", nil, 2))
            ngx.say(ngx.re.find("hello, 1234", "([0-9])", "jo", nil, 2))
            ngx.say(ngx.re.find("hello", "[0-9]"))
            ngx.say(ngx.re.find("hello", ""))
            local ctx = { pos = 9 }
            ngx.say(ngx.re.find("hello, 1234", "[0-9]", "", ctx), " ", ctx.pos)
        }
    }
--- request
GET /t
--- response_body
811
911
nilnil
nilnilnth out of bound
nil
10
9 10
--- no_error_log
[error]



=== TEST 10: ngx.re.match: u checks UTF-8, U skips the check
--- config
    location = /t {
        content_by_lua_block {
            local m = ngx.re.match("h\195\169llo", "^.(.)", "u")
            ngx.say(m[1] == "\195\169", " ", #m[1])
            m = ngx.re.match("h\195\169llo", "^.(.)")
            ngx.say(#m[1])
            ngx.say(ngx.re.match("\255abc", "abc", "u"))
            ngx.say(ngx.re.find("abc\192", "b", "u"))
            ngx.say(ngx.re.match("\195\169", "^.$", "U")[0] == "\195\169")
            ngx.say(ngx.re.match("x", "\255", "u"))
        }
    }
--- request
GET /t
--- response_body_like chomp
^true 2
1
nilpcre_exec\(\) failed: -\d+
nilnilpcre_exec\(\) failed: -\d+
true
nilpcre2_compile\(\) failed: UTF-8 error: .* in ".*"$
--- no_error_log
[error]



=== TEST 11: ngx.re.match: the backtracking limit is reported (lua_regex_match_limit)
--- http_config
    lua_regex_match_limit 5000;
--- config
    location = /t {
        content_by_lua_block {
            local s = string.rep("a", 30) .. "!"
            ngx.say(ngx.re.match(s, "^(a+)+$"))
            ngx.say(ngx.re.match(s, "^(a+)+$", "j"))
            ngx.say(ngx.re.find(s, "^(a|aa)+$", "o"))
            ngx.say(ngx.re.match("aaa", "^(a+)+$")[0])
        }
    }
--- request
GET /t
--- response_body
nilpcre_exec() failed: -47
nilpcre_exec() failed: -47
nilnilpcre_exec() failed: -47
aaa
--- no_error_log
[error]



=== TEST 12: ngx.re.match: very long subjects
--- config
    location = /t {
        content_by_lua_block {
            local s = string.rep("ab", 500000) .. "needle" .. string.rep("c", 100000)
            ngx.say(ngx.re.find(s, "needle", "jo"))
            local m = ngx.re.match(s, "(c+)$", "jo")
            ngx.say(#m[1])
            local n = 0
            for _ in ngx.re.gmatch(s, "ab", "jo") do n = n + 1 end
            ngx.say(n)
            local r, k = ngx.re.gsub(s, "b", "", "jo")
            ngx.say(#r, " ", k)
        }
    }
--- request
GET /t
--- response_body
10000011000006
100000
500000
600006 500000
--- no_error_log
[error]



=== TEST 13: ngx.re.find: JIT compiled in a loop with "jo"
--- config
    location = /t {
        content_by_lua_block {
            local stops, aborts = 0, 0
            local function on_trace(what, tr, func, pc, otr)
                if what == "stop" then
                    stops = stops + 1
                elseif what == "abort" and otr ~= 8 then
                    aborts = aborts + 1
                end
            end
            local find = ngx.re.find
            jit.attach(on_trace, "trace")
            local from, to
            for i = 1, 300 do
                from, to = find("hello, 1234", "[0-9]+", "jo")
            end
            jit.attach(on_trace)
            ngx.say(from, " ", to, " ", stops > 0, " ", aborts)
        }
    }
--- request
GET /t
--- response_body
8 11 true 0
--- no_error_log
[error]



=== TEST 14: ngx.re.match: lua_regex_cache_max_entries bounds the o cache
--- http_config
    lua_regex_cache_max_entries 2;
--- config
    location = /t {
        content_by_lua_block {
            for i = 1, 5 do
                local m = ngx.re.match("abc" .. i, "c" .. i, "o")
                ngx.say(m[0])
            end
        }
    }
--- request
GET /t
--- response_body
c1
c2
c3
c4
c5
--- error_log
lua exceeding regex cache max entries (2)



=== TEST 15: ngx.re.match: used in init_by_lua and with a 0 cache size
--- http_config
    lua_regex_cache_max_entries 0;
    init_by_lua_block {
        package.loaded.init_m = ngx.re.match("init 42", "\\d+", "jo")[0]
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(package.loaded.init_m, " ", ngx.re.match("x9", "\\d", "o")[0])
        }
    }
--- request
GET /t
--- response_body
42 9
--- no_error_log
[error]
[warn]



=== TEST 16: ngx.re.match: j logs the JIT outcome at debug level, as upstream
--- log_level: debug
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.re.match("hello, 1234", "([0-9]+)", "j")[0])
        }
    }
--- request
GET /t
--- response_body
1234
--- error_log
pcre2 JIT compiled successfully
--- no_error_log
[error]
