# lua_code_cache off: every request starts from fresh globals and loads its
# modules from scratch (upstream gives it a VM of its own), across phases of
# one request; with the cache on, modules and globals persist.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: code cache off: a required module is loaded again by every request, and sees its file's changes
--- no_hup
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
--- config
    location = /run {
        lua_code_cache off;
        content_by_lua_block {
            local m = require "counter"
            m.n = m.n + 1
            ngx.say(m.version, " ", m.n, " ", package.loaded.counter == m)
        }
    }
    location = /change {
        content_by_lua_block {
            local f = assert(io.open(ngx.config.prefix() .. "html/counter.lua", "w"))
            f:write('return { version = "v2", n = 0 }')
            f:close()
            ngx.say("changed")
        }
    }
--- user_files
>>> counter.lua
return { version = "v1", n = 0 }
--- request eval
["GET /run", "GET /run", "GET /change", "GET /run"]
--- response_body eval
["v1 1 true\n", "v1 1 true\n", "changed\n", "v2 1 true\n"]
--- no_error_log
[error]



=== TEST 2: code cache on: the module is loaded once per worker
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
--- config
    location = /run {
        content_by_lua_block {
            local m = require "counter"
            m.n = m.n + 1
            ngx.say(m.n)
        }
    }
--- user_files
>>> counter.lua
return { n = 0 }
--- request eval
["GET /run", "GET /run"]
--- response_body eval
["1\n", "2\n"]
--- no_error_log
[error]



=== TEST 3: code cache off: globals start empty in every request, _G included, and are shared by the request's phases
--- config
    lua_code_cache off;
    location = /t {
        rewrite_by_lua_block {
            seen_in_rewrite = (seen_in_rewrite or 0) + 1
            _G.foo = (_G.foo or 0) + 1
        }
        content_by_lua_block {
            ngx.say("rewrite: ", seen_in_rewrite, ", _G.foo: ", _G.foo, ", same _G: ", _G.seen_in_rewrite == seen_in_rewrite)
        }
        log_by_lua_block {
            ngx.log(ngx.WARN, "log phase sees foo=", foo)
        }
    }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["rewrite: 1, _G.foo: 1, same _G: true\n", "rewrite: 1, _G.foo: 1, same _G: true\n"]
--- error_log
log phase sees foo=1
writing a global Lua variable ('seen_in_rewrite')



=== TEST 4: code cache off: globals of init_by_lua and the built-in modules are still seen; lua-lib modules load once
--- http_config
    lua_code_cache off;
    init_by_lua_block { from_init = "init" }
--- config
    location = /t {
        content_by_lua_block {
            local sema = require "ngx.semaphore"
            local s = sema.new(1)
            ngx.say(from_init, " ", type(ngx.say), " ", type(string.format), " ",
                    s:count(), " ", package.loaded["ngx.semaphore"] == sema)
        }
    }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["init function function 1 true\n", "init function function 1 true\n"]
--- no_error_log
[error]



=== TEST 5: code cache off: a module declaring FFI functions loads in every request
--- http_config
    lua_code_cache off;
    lua_package_path "$prefix/html/?.lua;;";
--- config
    location = /t {
        content_by_lua_block {
            local m = require "withffi"
            ngx.say(m.loaded_at ~= nil, " ", type(m.f))
        }
    }
--- user_files
>>> withffi.lua
local ffi = require "ffi"
ffi.cdef[[
    int ngx_lua_rs_test_unused_fn(void *p);
]]
return { loaded_at = ngx.now(), f = "declared" }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["true string\n", "true string\n"]
--- no_error_log
[error]



=== TEST 6: code cache off: set_by_lua_file, header and body filters share the request's globals
--- config
    lua_code_cache off;
    location = /t {
        set_by_lua_file $x html/set.lua;
        content_by_lua_block { ngx.say("x=", ngx.var.x, " n=", n) }
        header_filter_by_lua_block { n = n + 1; ngx.header["X-N"] = n }
        body_filter_by_lua_block { if ngx.arg[2] then n = n + 1; ngx.arg[1] = "n=" .. n .. "\n" end }
    }
--- user_files
>>> set.lua
n = (n or 0) + 1
return n
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["x=1 n=1\nn=3\n", "x=1 n=1\nn=3\n"]



=== TEST 7: code cache off: a module declared with module() and package.seeall is the request's own: require returns it, its global is the request's, and the next request loads it again
--- no_hup
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
--- config
    lua_code_cache off;
    location = /t {
        content_by_lua_block {
            local m = require "legacy.mod"
            ngx.say(type(m), " ", m._NAME, " ", m._PACKAGE, " ", m.go(), " ", legacy.mod == m,
                    " ", package.loaded["legacy.mod"] == m, " ", rawget(_G, "legacy") ~= nil)
            m.calls = (m.calls or 0) + 1
            ngx.say("calls ", m.calls, ", loads ", m.loads)
        }
        log_by_lua_block {
            -- the VM's globals and module table never saw it
            local G = getmetatable(_G).__index
            if rawget(G, "legacy") ~= nil or package.loaded["legacy.mod"] == nil then
                ngx.log(ngx.ERR, "leaked or lost")
            end
        }
    }
--- user_files
>>> legacy/mod.lua
module(..., package.seeall)
loads = (loads or 0) + 1
function go()
    return ngx.var.uri .. " " .. tostring(string.len("abc"))
end
--- request eval
["GET /t", "GET /t"]
--- response_body eval
["table legacy.mod legacy. /t 3 true true true\ncalls 1, loads 1\n",
"table legacy.mod legacy. /t 3 true true true\ncalls 1, loads 1\n"]
--- no_error_log
[error]
