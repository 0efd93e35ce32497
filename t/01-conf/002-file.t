# *_by_lua_file: paths relative to the prefix, nginx variables, errors.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: content_by_lua_file with a path relative to the prefix
--- config
    location = /t {
        content_by_lua_file html/hello.lua;
    }
--- user_files
>>> hello.lua
ngx.say("hello from a file")
--- request
GET /t
--- response_body
hello from a file
--- no_error_log
[error]



=== TEST 2: file path with nginx variables (evaluated per request)
--- config
    location ~ ^/app/(\w+)$ {
        content_by_lua_file html/$1.lua;
    }
--- user_files
>>> a.lua
ngx.say("a")
>>> b.lua
ngx.say("b")
--- request eval
["GET /app/a", "GET /app/b"]
--- response_body eval
["a\n", "b\n"]
--- no_error_log
[error]



=== TEST 3: a missing file gives 404 (rewrite and content), an unreadable one 503, with upstream's load error
--- config
    location = /t {
        content_by_lua_file html/nope.lua;
    }
    location = /r {
        rewrite_by_lua_file html/nope.lua;
        content_by_lua_block { ngx.say("content ran") }
    }
    location = /dir {
        content_by_lua_file html/adir;
    }
--- user_files
>>> adir/x
x
--- request eval
["GET /t", "GET /r", "GET /dir"]
--- error_code eval
[404, 404, 503]
--- error_log eval
qr{failed to load external Lua file ".*/html/(nope\.lua": cannot open .*/html/nope\.lua: No such file or directory|adir": cannot read .*/html/adir: Is a directory)}



=== TEST 4: rewrite, access and log handlers from files, with error lines
--- config
    location = /t {
        rewrite_by_lua_file html/rw.lua;
        access_by_lua_file html/acc.lua;
        content_by_lua_block { ngx.say(ngx.ctx.trail) }
        log_by_lua_file html/log.lua;
    }
--- user_files
>>> rw.lua
ngx.ctx.trail = "rewrite"
>>> acc.lua
ngx.ctx.trail = ngx.ctx.trail .. ",access"
>>> log.lua
ngx.log(ngx.WARN, "logged: ", ngx.ctx.trail)
--- request
GET /t
--- response_body
rewrite,access
--- error_log eval
qr/\[warn\] .*log\.lua:1: logged: rewrite,access/



=== TEST 5: syntax error in a file
--- config
    location = /t {
        content_by_lua_file html/bad.lua;
    }
--- user_files
>>> bad.lua
ngx.say("x"
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/failed to load external Lua file ".*bad\.lua": .*bad\.lua:2: '\)' expected/



=== TEST 6: init_worker_by_lua_file and exit_worker_by_lua_file run their files in each phase
--- http_config
    init_worker_by_lua_file html/iw.lua;
    exit_worker_by_lua_file html/ew.lua;
--- config
    location = /t {
        content_by_lua_block { ngx.say(package.loaded.worker_mark) }
    }
--- user_files
>>> iw.lua
package.loaded.worker_mark = "set by " .. ngx.get_phase()
>>> ew.lua
ngx.log(ngx.WARN, "leaving from ", ngx.get_phase(), ", mark: ", package.loaded.worker_mark)
--- request
GET /t
--- response_body
set by init_worker
--- shutdown_error_log eval
qr/\[warn\] .*ew\.lua:1: leaving from exit_worker, mark: set by init_worker/
--- no_error_log
[error]



=== TEST 7: header_filter_by_lua_file and body_filter_by_lua_file change the response
--- config
    location = /t {
        content_by_lua_block { ngx.say("hello") ngx.say("world") }
        header_filter_by_lua_file html/hf.lua;
        body_filter_by_lua_file html/bf.lua;
    }
--- user_files
>>> hf.lua
ngx.header["X-From-File"] = ngx.get_phase()
ngx.header.content_length = nil
>>> bf.lua
if ngx.arg[1] ~= "" then
    ngx.arg[1] = string.upper(ngx.arg[1])
end
--- request
GET /t
--- response_headers
X-From-File: header_filter
--- response_body
HELLO
WORLD
--- no_error_log
[error]



=== TEST 8: an error in a body_filter_by_lua_file names the file and line
--- config
    location = /t {
        content_by_lua_block { ngx.say("x") }
        body_filter_by_lua_file html/bf.lua;
    }
--- user_files
>>> bf.lua
local n = nil
return n.field
--- request
GET /t
--- ignore_response
--- error_log eval
qr/\[error\] .*bf\.lua:2: attempt to index local 'n' \(a nil value\)/
