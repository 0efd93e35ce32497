# lua_code_cache.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: code cache on: a changed file is not re-read
--- no_hup
--- config
    location = /run {
        content_by_lua_file html/code.lua;
    }
    location = /change {
        content_by_lua_block {
            local f = assert(io.open(ngx.config.prefix() .. "html/code.lua", "w"))
            f:write('ngx.say("version 2")')
            f:close()
            ngx.say("changed")
        }
    }
--- user_files
>>> code.lua
ngx.say("version 1")
--- request eval
["GET /run", "GET /change", "GET /run"]
--- response_body eval
["version 1\n", "changed\n", "version 1\n"]



=== TEST 2: code cache off: the file is re-read on every request
--- http_config
    lua_code_cache off;
--- config
    location = /run {
        content_by_lua_file html/code.lua;
    }
    location = /change {
        content_by_lua_block {
            local f = assert(io.open(ngx.config.prefix() .. "html/code.lua", "w"))
            f:write('ngx.say("version 2")')
            f:close()
            ngx.say("changed")
        }
    }
--- user_files
>>> code.lua
ngx.say("version 1")
--- request eval
["GET /run", "GET /change", "GET /run"]
--- response_body eval
["version 1\n", "changed\n", "version 2\n"]



=== TEST 3: code cache off per location
--- config
    location = /run {
        lua_code_cache off;
        rewrite_by_lua_file html/code.lua;
        content_by_lua_block { ngx.say(ngx.ctx.v) }
    }
    location = /change {
        content_by_lua_block {
            local f = assert(io.open(ngx.config.prefix() .. "html/code.lua", "w"))
            f:write('ngx.ctx.v = "v2"')
            f:close()
            ngx.say("changed")
        }
    }
--- user_files
>>> code.lua
ngx.ctx.v = "v1"
--- request eval
["GET /run", "GET /change", "GET /run"]
--- response_body eval
["v1\n", "changed\n", "v2\n"]



=== TEST 4: lua_code_cache off alerts while the configuration is read
--- http_config
    lua_code_cache off;
    no_such_directive_to_stop_here;
--- config
--- must_die
--- error_log
lua_code_cache is off; this will hurt performance
unknown directive "no_such_directive_to_stop_here"
