# ngx.escape_uri, ngx.unescape_uri.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.escape_uri: component escaping by default
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.escape_uri("a b/c?d=e&f+g#h%i"))
            ngx.say(ngx.escape_uri("-._~!'()*AZaz09"))
            ngx.say(ngx.escape_uri("\0\127\255[]{}|^`@$,;:<>\""))
            ngx.say(ngx.escape_uri("caf\195\169"))
        }
    }
--- request
GET /t
--- response_body
a%20b%2Fc%3Fd%3De%26f%2Bg%23h%25i
-._~!'()*AZaz09
%00%7F%FF%5B%5D%7B%7D%7C%5E%60%40%24%2C%3B%3A%3C%3E%22
caf%C3%A9
--- no_error_log
[error]



=== TEST 2: ngx.escape_uri: type 0 escapes a full URI
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.escape_uri("/a b?c=d&e#f%~\1\127", 0))
            ngx.say(ngx.escape_uri("/a b?c=d&e#f%~", 2))
        }
    }
--- request
GET /t
--- response_body
/a%20b%3Fc=d&e%23f%25~%01%7F
%2Fa%20b%3Fc%3Dd%26e%23f%25~
--- no_error_log
[error]



=== TEST 3: ngx.escape_uri: nil, numbers and empty strings
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("[", ngx.escape_uri(nil), "]")
            ngx.say("[", ngx.escape_uri(""), "]")
            ngx.say(ngx.escape_uri(3.5))
            ngx.say(ngx.escape_uri(true))
        }
    }
--- request
GET /t
--- response_body
[]
[]
3.5
true
--- no_error_log
[error]



=== TEST 4: ngx.escape_uri: a bad type argument raises an error
--- config
    location = /t {
        content_by_lua_block {
            local function try(...)
                local ok, err = pcall(ngx.escape_uri, ...)
                ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
            end
            try("a", "x")
            try("a", 7)
            try("a", -1)
        }
    }
--- request
GET /t
--- response_body
false "type" is not a number
false "type" 7 out of range
false "type" -1 out of range
--- no_error_log
[error]



=== TEST 5: ngx.escape_uri: the type error is reported at the caller's caller, as upstream
--- config
    location = /t {
        content_by_lua_block {
            ngx.escape_uri("a", 10)
        }
    }
--- request
GET /t
--- error_code: 500
--- error_log
lua entry thread aborted: runtime error: "type" 10 out of range



=== TEST 6: ngx.unescape_uri: plus signs, valid and broken escapes
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.unescape_uri("b%20r56+7"))
            ngx.say(ngx.unescape_uri("%"))
            ngx.say(ngx.unescape_uri("%4"))
            ngx.say(ngx.unescape_uri("%zz%41%6a%6A%%41"))
            ngx.say("[", ngx.unescape_uri(nil), "]")
            ngx.say(ngx.unescape_uri(ngx.escape_uri("\0\1 \255/?")) == "\0\1 \255/?")
        }
    }
--- request
GET /t
--- response_body
b r56 7
%
%4
%zzAjj%A
[]
true
--- no_error_log
[error]



=== TEST 7: ngx.escape_uri: long strings beyond the scratch buffer
--- config
    location = /t {
        content_by_lua_block {
            local s = string.rep("a b", 100000)
            local e = ngx.escape_uri(s)
            ngx.say(#e, " ", e:sub(1, 9))
            ngx.say(ngx.unescape_uri(e) == s)
        }
    }
--- request
GET /t
--- response_body
500000 a%20ba%20
true
--- no_error_log
[error]



=== TEST 8: ngx.escape_uri: works in init_by_lua and is JIT compiled
--- http_config
    init_by_lua_block {
        package.loaded.esc = ngx.escape_uri("a b")
    }
--- config
    location = /t {
        content_by_lua_block {
            local stops, aborts = 0, 0
            local function on_trace(what, tr, func, pc, otr, oex)
                if what == "stop" then
                    stops = stops + 1
                elseif what == "abort" and otr ~= 8 then
                    -- 8 is "leaving loop in root trace", the harmless
                    -- abort at the loop's exit; anything else (NYI, ...)
                    -- means a trace could not be compiled
                    aborts = aborts + 1
                end
            end
            jit.attach(on_trace, "trace")
            local s
            for i = 1, 300 do
                s = ngx.escape_uri("hello world/" .. (i % 3))
            end
            jit.attach(on_trace)
            ngx.say(package.loaded.esc, " ", s, " ", stops > 0, " ", aborts)
        }
    }
--- request
GET /t
--- response_body
a%20b hello%20world%2F0 true 0
--- no_error_log
[error]
