# resty.core: ours builds ngx.* whatever lua_package_path holds; a resty.core
# of the user's on lua_package_path is what `require "resty.core"` returns,
# as upstream (which loads the first one its path has).
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan tests => repeat_each() * (blocks() * 3 - 1);
run_tests();

__DATA__

=== TEST 1: resty.core: a resty/core.lua on lua_package_path is what require returns, loaded once, ngx.* intact
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
    init_by_lua_block { in_init = require("resty.core").from_html_dir }
--- config
    location = /t {
        content_by_lua_block {
            local rc = require "resty.core"
            ngx.say(rc.from_html_dir, " ", package.loaded["resty.core"] == rc, " ", in_init)
            ngx.say("loads: ", rc.loads())
            ngx.say(ngx.md5("a"), " ", ngx.shared ~= nil, " ", type(ngx.re.match))
        }
    }
--- user_files
>>> resty/core.lua
local n = 0
n = n + 1
-- the modules it requires are the embedded ones, already loaded
local base = require "resty.core.base"
return { from_html_dir = "html dir", version = base.version, loads = function() return n end }
--- request
GET /t
--- response_body
html dir true html dir
loads: 1
0cc175b9c0f1b6a831c399e269772661 true function
--- no_error_log
[error]



=== TEST 2: resty.core: without one on lua_package_path, require returns ours, and a path without the defaults still gets it
--- http_config
    lua_package_path "$prefix/html/?.lua";
--- config
    location = /t {
        content_by_lua_block {
            local rc = require "resty.core"
            ngx.say(type(rc), " ", rc.version == require("resty.core.base").version, " ", rc.from_html_dir)
        }
    }
--- request
GET /t
--- response_body
table true nil
--- no_error_log
[error]



=== TEST 3: resty.core: one on lua_package_path that fails stops nginx at start with the reason
--- http_config
    lua_package_path "$prefix/html/?.lua;;";
--- config
    location = /t {
        return 200;
    }
--- user_files
>>> resty/core.lua
error("this resty.core is broken")
--- must_die
--- error_log eval
qr/\[alert\] .*failed to load the 'resty\.core' module found on lua_package_path \(reason: .*resty\/core\.lua:1: this resty\.core is broken\)/
