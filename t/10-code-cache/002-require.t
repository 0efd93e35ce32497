# require and dofile of code that waits at its top level.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: require: a module that sleeps while loading
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            local m = require "slowmod"
            ngx.say(m.value, " ", require("slowmod") == m)
        }
    }
--- user_files
>>> slowmod.lua
ngx.sleep(0.01)
return { value = "loaded after a sleep" }
--- request
GET /t
--- response_body
loaded after a sleep true
--- no_error_log
attempt to yield across C-call boundary
[error]



=== TEST 2: dofile: a file that sleeps
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(dofile(ngx.config.prefix() .. "html/slow.lua"))
        }
    }
--- user_files
>>> slow.lua
ngx.sleep(0.01)
return "dofile result"
--- request
GET /t
--- response_body
dofile result



=== TEST 3: require: missing module and errors while loading
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(require, "no.such.module")
            ngx.say(err:match("^module 'no.such.module' not found:") ~= nil)
            ok, err = pcall(require, "broken")
            ngx.say(err)
            ngx.say(package.loaded.broken)
        }
    }
--- user_files
>>> broken.lua
error("broken on purpose", 0)
--- request
GET /t
--- response_body
true
broken on purpose
nil



=== TEST 4: require: a module returning nothing is recorded as true
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
--- config
    location = /t {
        content_by_lua_block { ngx.say(require("noret"), " ", package.loaded.noret) }
    }
--- user_files
>>> noret.lua
local x = 1
--- request
GET /t
--- response_body
true true
