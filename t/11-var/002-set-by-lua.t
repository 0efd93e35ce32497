# set_by_lua, set_by_lua_block, set_by_lua_file: run in order with the
# rewrite module's set/if, arguments through ngx.arg, errors.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: set_by_lua_block: the return value becomes the variable
--- config
    location = /t {
        set_by_lua_block $res { return 1 + 1 }
        content_by_lua_block { ngx.say(ngx.var.res, " ", type(ngx.var.res)) }
    }
--- request
GET /t
--- response_body
2 string
--- no_error_log
[error]



=== TEST 2: set_by_lua: ngx.arg and varargs carry the arguments, with variables
--- config
    location = /t {
        set_by_lua $sum "return ngx.arg[1] + ngx.arg[2]" $arg_a $arg_b;
        set_by_lua $joined 'local a, b, c = ... return a .. "|" .. b .. "|" .. select("#", ...) .. "|" .. tostring(c)' "[$arg_a]" literal;
        content_by_lua_block { ngx.say(ngx.var.sum, " ", ngx.var.joined) }
    }
--- request
GET /t?a=3&b=4
--- response_body
7 [3]|literal|2|nil
--- no_error_log
[error]



=== TEST 3: set_by_lua: ngx.arg is nil past the last argument and for an empty one
--- config
    location = /t {
        set_by_lua $res 'return tostring(ngx.arg[1]) .. "," .. tostring(ngx.arg[2]) .. "," .. tostring(ngx.arg[3]) .. "," .. tostring(ngx.arg[0]) .. "," .. tostring(ngx.arg.foo)' $arg_missing x;
        content_by_lua_block { ngx.say(ngx.var.res) }
    }
--- request
GET /t
--- response_body
nil,x,nil,nil,nil
--- no_error_log
[error]



=== TEST 4: set_by_lua: interleaved with set, each sees the values assigned before it
--- config
    location = /t {
        set $a 1;
        set_by_lua $b 'return ngx.var.a + 1';
        set $c "$b-x";
        set $a 5;
        set_by_lua_block $d { return ngx.var.a .. ngx.var.c }
        set $e "[$d]";
        content_by_lua_block { ngx.say(ngx.var.b, " ", ngx.var.c, " ", ngx.var.d, " ", ngx.var.e) }
    }
--- request
GET /t
--- response_body
2 2-x 52-x [52-x]
--- no_error_log
[error]



=== TEST 5: set_by_lua: in order with if, and inside an if block
--- config
    location = /t {
        set $in_if "none";
        set_by_lua $flag 'return ngx.var.arg_x == "1" and "yes" or "no"';
        if ($flag = yes) {
            set_by_lua $in_if 'return "inside " .. ngx.var.flag';
        }
        set_by_lua $after 'return "after " .. ngx.var.in_if';
        content_by_lua_block { ngx.say(ngx.var.flag, "; ", ngx.var.in_if, "; ", ngx.var.after) }
    }
--- request eval
["GET /t?x=1", "GET /t?x=0"]
--- response_body eval
["yes; inside yes; after inside yes\n", "no; none; after none\n"]
--- no_error_log
[error]



=== TEST 6: set_by_lua runs in the rewrite module's pass, before rewrite_by_lua
--- config
    location = /t {
        rewrite_by_lua_block { ngx.var.order = ngx.var.order .. ",rewrite_by_lua" }
        set $order "set";
        set_by_lua $order 'return ngx.var.order .. ",set_by_lua"';
        content_by_lua_block { ngx.say(ngx.var.order) }
    }
--- request
GET /t
--- response_body
set,set_by_lua,rewrite_by_lua
--- no_error_log
[error]



=== TEST 7: set_by_lua at server level runs in the server rewrite phase
--- config
    set_by_lua $srv 'return "server:" .. ngx.var.uri';
    location = /t {
        content_by_lua_block { ngx.say(ngx.var.srv) }
    }
--- request
GET /t
--- response_body
server:/t
--- no_error_log
[error]



=== TEST 8: set_by_lua: return values of other types
--- config
    location = /t {
        set_by_lua $n 'return 3.5';
        set_by_lua $nothing 'return nil';
        set_by_lua $none 'local x = 1';
        set_by_lua $bool 'return true';
        set_by_lua $tab 'return {}';
        set_by_lua $first 'return "a", "b"';
        set_by_lua $empty "";
        content_by_lua_block {
            local v = ngx.var
            ngx.say(v.n, "|", v.nothing, "|", v.none, "|", v.bool, "|", v.tab, "|", v.first, "|", v.empty, "|")
        }
    }
--- request
GET /t
--- response_body
3.5|||||a||
--- no_error_log
[error]



=== TEST 9: set_by_lua: ngx.var reads and writes, ngx.ctx and ngx.get_phase inside
--- config
    location = /t {
        set $b 1;
        set_by_lua $a 'ngx.var.b = 32; ngx.ctx.from_set = "yes"; return ngx.get_phase()';
        content_by_lua_block { ngx.say(ngx.var.a, " ", ngx.var.b, " ", ngx.ctx.from_set) }
    }
--- request
GET /t
--- response_body
set 32 yes
--- no_error_log
[error]



=== TEST 10: set_by_lua can assign variables with a set handler ($args)
--- config
    location = /t {
        set_by_lua $args 'return "x=" .. (tonumber(ngx.var.arg_x) * 2)';
        content_by_lua_block { ngx.say(ngx.var.args, " ", ngx.var.arg_x, " ", ngx.req.get_uri_args().x) }
    }
--- request
GET /t?x=21
--- response_body
x=42 42 42
--- no_error_log
[error]



=== TEST 11: set_by_lua: a Lua error gives 500 and logs the error with a traceback
--- config
    location = /t {
        set_by_lua_block $res {
            local t = nil
            return t.field
        }
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- response_body_like: 500 Internal Server Error
--- error_log eval
[qr/failed to run set_by_lua\*: set_by_lua\(nginx\.conf:\d+\):3: attempt to index local 't' \(a nil value\)/,
"stack traceback:"]



=== TEST 12: set_by_lua: a syntax error in the inline code gives 500
--- config
    location = /t {
        set_by_lua $res "local a = ; return a";
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/failed to load inlined Lua code: set_by_lua\(nginx\.conf:\d+\):1: unexpected symbol near ';'/



=== TEST 13: set_by_lua: the error stops the rest of the rewrite codes
--- config
    location = /t {
        set_by_lua $res 'error("stop here")';
        set_by_lua $later 'ngx.log(ngx.ERR, "later code ran")';
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- error_log
stop here
--- no_error_log
later code ran



=== TEST 14: set_by_lua: output, control and waiting APIs are disabled
--- config
    location = /t {
        set_by_lua_block $res {
            local out = {}
            local function try(name, f, ...)
                local ok, err = pcall(f, ...)
                out[#out + 1] = name .. ": " .. (ok and "ok" or tostring(err))
            end
            try("say", ngx.say, "x")
            try("print", ngx.print, "x")
            try("flush", ngx.flush)
            try("eof", ngx.eof)
            try("send_headers", ngx.send_headers)
            try("exit", ngx.exit, 200)
            try("exec", ngx.exec, "/other")
            try("redirect", ngx.redirect, "/other")
            try("sleep", ngx.sleep, 0.001)
            try("read_body", ngx.req.read_body)
            try("set_uri jump", ngx.req.set_uri, "/other", true)
            try("tcp connect", function()
                local s = ngx.socket.tcp()
                return s:connect("127.0.0.1", 1)
            end)
            try("thread.spawn", ngx.thread.spawn, function() end)
            try("on_abort", ngx.on_abort, function() end)
            return table.concat(out, "\n")
        }
        content_by_lua_block { ngx.say(ngx.var.res) }
    }
--- request
GET /t
--- response_body_like eval
qr/^say: [^\n]*API disabled in the context of set_by_lua\*
print: [^\n]*API disabled in the context of set_by_lua\*
flush: [^\n]*API disabled in the context of set_by_lua\*
eof: [^\n]*API disabled in the context of set_by_lua\*
send_headers: [^\n]*API disabled in the context of set_by_lua\*
exit: [^\n]*API disabled in the context of set_by_lua\*
exec: [^\n]*API disabled in the context of set_by_lua\*
redirect: [^\n]*API disabled in the context of set_by_lua\*
sleep: [^\n]*API disabled in the context of set_by_lua\*
read_body: [^\n]*API disabled in the context of set_by_lua\*
set_uri jump: [^\n]*API disabled in the context of set_by_lua\*
tcp connect: [^\n]*API disabled in the context of set_by_lua\*
thread.spawn: [^\n]*API disabled in the context of set_by_lua\*
on_abort: [^\n]*API disabled in the context of set_by_lua\*
$/
--- no_error_log
[error]



=== TEST 15: set_by_lua: an uncaught disabled API gives 500 with the upstream text
--- config
    location = /t {
        set_by_lua $res 'ngx.say(32) return 1';
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- error_log
API disabled in the context of set_by_lua*



=== TEST 16: set_by_lua_file: a relative path, arguments, and a path with variables
--- config
    location = /t {
        set_by_lua_file $res html/add.lua $arg_a 10;
        set_by_lua_file $dyn html/$arg_f.lua $arg_a 1;
        content_by_lua_block { ngx.say(ngx.var.res, " ", ngx.var.dyn) }
    }
--- user_files
>>> add.lua
return tonumber(ngx.arg[1]) + tonumber(ngx.arg[2])
>>> mul.lua
local a, b = ...
return a * b * 3
--- request
GET /t?a=5&f=mul
--- response_body
15 15
--- no_error_log
[error]



=== TEST 17: set_by_lua_file: a missing file gives 500
--- config
    location = /t {
        set_by_lua_file $res html/nope.lua;
        content_by_lua_block { ngx.say("not reached") }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/failed to load external Lua file ".*html\/nope\.lua": cannot open/



=== TEST 18: set_by_lua_file: a syntax error in the file gives 500
--- config
    location = /t {
        set_by_lua_file $res html/bad.lua;
        content_by_lua_block { ngx.say("not reached") }
    }
--- user_files
>>> bad.lua
return 3 +
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/failed to load external Lua file ".*html\/bad\.lua": .*unexpected symbol near '<eof>'/



=== TEST 19: set_by_lua with lua_code_cache off reloads the file per request
--- config
    lua_code_cache off;
    location = /t {
        set_by_lua_file $res html/v.lua;
        content_by_lua_block {
            local f = io.open(ngx.config.prefix() .. "html/v.lua", "w")
            f:write("return 'second'")
            f:close()
            ngx.say(ngx.var.res)
        }
    }
--- user_files
>>> v.lua
return 'first'
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["first\n", "second\n"]



=== TEST 20: set_by_lua: a variable it defines reads as empty where it is not assigned, with the rewrite module's warning
--- config
    location = /a {
        set_by_lua $only_lua 'return "x"';
    }
    location = /t {
        content_by_lua_block { ngx.say("[", ngx.var.only_lua, "]") }
    }
--- request
GET /t
--- response_body
[]
--- error_log
using uninitialized "only_lua" variable



=== TEST 21: set_by_lua: invalid variable name fails at nginx -t
--- config
    location = /t {
        set_by_lua res 'return 1';
    }
--- must_die
--- error_log
invalid variable name "res"



=== TEST 22: set_by_lua is not allowed at http level
--- http_config
    set_by_lua $res 'return 1';
--- config
    location = /t {
        return 200;
    }
--- must_die
--- error_log
"set_by_lua" directive is not allowed here



=== TEST 23: set_by_lua runs again in the location ngx.exec jumps to
--- config
    location = /t {
        rewrite_by_lua_block { ngx.exec("/target", "v=7") }
    }
    location = /target {
        set_by_lua $res 'return "target got " .. ngx.var.arg_v';
        content_by_lua_block { ngx.say(ngx.var.res) }
    }
--- request
GET /t
--- response_body
target got 7
--- no_error_log
[error]
