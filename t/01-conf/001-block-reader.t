# The *_by_lua_block reader: any Lua between the braces.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: block reader: braces and semicolons inside strings
--- config
    location = /t {
        content_by_lua_block {
            local s = "}{;"
            local t = '}\'};'
            ngx.say(s, " ", t)
        }
    }
--- request
GET /t
--- response_body
}{; }'};
--- no_error_log
[error]



=== TEST 2: block reader: long strings and long comments of every level
--- config
    location = /t {
        content_by_lua_block {
            --[[ } ]] --[==[ }}} ]] ]==]
            local a = [[}]]
            local b = [=[ ]] } ]=]
            -- } a line comment with a brace
            local t = { x = { y = 1 } }
            ngx.say(a, b, t.x.y)
        }
    }
--- request
GET /t
--- response_body
} ]] } 1
--- no_error_log
[error]



=== TEST 3: block reader: a block bigger than nginx's 4 KB conf buffer
--- config eval
my $pad = CORE::join "", map { "        local v$_ = \"}{ $_ ;\"\n" } 1 .. 150;
"    location = /t {
        content_by_lua_block {
$pad
            ngx.say(v1, v150)
        }
    }
    location = /after {
        content_by_lua_block { ngx.say('after') }
    }"
--- request
GET /after
--- response_body
after
--- no_error_log
[error]



=== TEST 4: block reader: code lines map to nginx.conf lines in errors
--- config
    location = /t {
        content_by_lua_block {
            local x = 1
            error("boom")
        }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/runtime error: content_by_lua\(nginx\.conf:\d+\):3: boom/



=== TEST 5: block reader: unbalanced block fails at nginx -t with file:line
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("a [[ in a string is not a long bracket")
            local t = {{{{{{
        }
    }
--- must_die
--- error_log eval
qr/unexpected end of file, expecting terminating characters for lua code block in .*nginx\.conf:\d+/



=== TEST 6: string form of the directives
--- config
    location = /t {
        rewrite_by_lua 'ngx.ctx.r = "rewrite"';
        content_by_lua 'ngx.say(ngx.ctx.r, " then content")';
    }
--- request
GET /t
--- response_body
rewrite then content
--- no_error_log
[error]



=== TEST 7: duplicate handler directive in one location
--- config
    location = /t {
        content_by_lua_block { ngx.say(1) }
        content_by_lua_block { ngx.say(2) }
    }
--- must_die
--- error_log
"content_by_lua_block" directive is duplicate



=== TEST 8: lua_load_resty_core is accepted with upstream's deprecation warning
--- http_config
    lua_load_resty_core on;
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
    }
--- request
GET /t
--- response_body
ok
--- error_log
lua_load_resty_core is deprecated (the lua-resty-core library is required since ngx_lua v0.10.16)



=== TEST 9: empty inline code is refused
--- config
    location = /t {
        content_by_lua "";
    }
--- must_die
--- error_log
no runnable Lua code



=== TEST 10: block reader: an unclosed long string names its closing bracket
--- config
    location = /t {
        content_by_lua_block {
            ngx.say([==[never closed")
        }
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*Lua code block missing the closing long bracket "\]==\]", the inlined Lua code may be too long in .*nginx\.conf:\d+/



=== TEST 11: block reader: an unclosed long comment names its closing bracket
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(--[[ never closed")
        }
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*Lua code block missing the closing long bracket "\]\]", the inlined Lua code may be too long in .*nginx\.conf:\d+/



=== TEST 12: chunk names: a conf file path too long for LuaJIT's chunk names keeps its end after "...", as upstream
--- config
    location = /long {
        content_by_lua_block { ngx.say("long") }
        include ../html/abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij.conf;
    }
--- user_files
>>> abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij.conf
    header_filter_by_lua_block {
        'for end';
    }
--- request
GET /long
--- ignore_response
--- error_log eval
qr/failed to load inlined Lua code: header_filter_by_lua\(\.\.\.defghijabcdefghijabcdefghij\.conf:1\):2: unexpected symbol near ''for end''/



=== TEST 13: chunk names: a short conf file path is shown whole, relative to the conf prefix
--- config
    location = /short {
        content_by_lua_block { ngx.say("short") }
        include ../html/s.conf;
    }
--- user_files
>>> s.conf
    header_filter_by_lua_block {
        'for end';
    }
--- request
GET /short
--- ignore_response
--- error_log eval
qr/failed to load inlined Lua code: header_filter_by_lua\(\.\.\/html\/s\.conf:1\):2: unexpected symbol near ''for end''/
