# *_by_lua_file paths with nginx variables in the filter and log phases:
# evaluated per request, each resulting file compiled (and cached) on its own.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan tests => repeat_each() * (blocks() * 3);
run_tests();

__DATA__

=== TEST 1: header_filter_by_lua_file: a regex capture in the path
--- config
    location ~ ^/lua/(.+)$ {
        content_by_lua_block { ngx.say("body") }
        header_filter_by_lua_file html/h_$1.lua;
    }
    location = /t {
        content_by_lua_block {
            for _, u in ipairs{"/lua/a", "/lua/b", "/lua/a", "/lua/b"} do
                ngx.say(ngx.location.capture(u).header.match)
            end
        }
    }
--- user_files
>>> h_a.lua
ngx.header.match = "a"
>>> h_b.lua
ngx.header.match = "b"
--- request
GET /t
--- response_body
a
b
a
b
--- no_error_log
[error]



=== TEST 2: body_filter_by_lua_file: a variable in the path
--- config
    location /lua {
        set $which $arg_w;
        content_by_lua_block { ngx.print("body") }
        body_filter_by_lua_file html/b_$which.lua;
    }
    location = /t {
        content_by_lua_block {
            for _, w in ipairs{"x", "y", "x"} do
                ngx.say(ngx.location.capture("/lua", { args = { w = w } }).body)
            end
        }
    }
--- user_files
>>> b_x.lua
if ngx.arg[1] ~= "" then ngx.arg[1] = "X:" .. ngx.arg[1] end
>>> b_y.lua
if ngx.arg[1] ~= "" then ngx.arg[1] = "Y:" .. ngx.arg[1] end
--- request
GET /t
--- response_body
X:body
Y:body
X:body
--- no_error_log
[error]



=== TEST 3: log_by_lua_file: a regex capture in the path
--- config
    location ~ ^/log/(.+)$ {
        content_by_lua_block { ngx.say("ok") }
        log_by_lua_file html/l_$1.lua;
    }
--- user_files
>>> l_a.lua
ngx.log(ngx.WARN, "log file a ran for ", ngx.var.uri)
--- request
GET /log/a
--- response_body
ok
--- error_log
log file a ran for /log/a



=== TEST 4: log_by_lua_file: the file the path names does not exist
--- config
    location ~ ^/log/(.+)$ {
        content_by_lua_block { ngx.say("ok") }
        log_by_lua_file html/l_$1.lua;
    }
--- request
GET /log/nope
--- response_body
ok
--- error_log eval
qr/failed to run log_by_lua\*: failed to load external Lua file ".*?html\/l_nope\.lua"/
