# ngx.log and print.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: prefix with file, line and function name
--- config
    location = /t {
        content_by_lua_block {
            local function helper()
                ngx.log(ngx.ERR, "from helper ", 1, " ", true, " ", nil)
            end
            helper()
            ngx.log(ngx.WARN, "main chunk")
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log eval
[
qr/\[error\] .*\[lua\] content_by_lua\(nginx\.conf:\d+\):3: helper\(\): from helper 1 true nil, client: 127\.0\.0\.1/,
qr/\[warn\] .*\[lua\] content_by_lua\(nginx\.conf:\d+\):6: main chunk, client/,
]



=== TEST 2: print logs at notice
--- config
    location = /t {
        content_by_lua_block { print("printed ", 42) ngx.say("ok") }
    }
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/\[notice\] .*\[lua\] content_by_lua\(nginx\.conf:\d+\):1: printed 42/



=== TEST 3: messages below the log level are dropped
--- log_level: warn
--- config
    location = /t {
        content_by_lua_block {
            ngx.log(ngx.INFO, "hidden info")
            ngx.log(ngx.NOTICE, "hidden notice")
            ngx.log(ngx.WARN, "shown warn")
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log
shown warn
--- no_error_log
hidden info
hidden notice



=== TEST 4: bad arguments
--- config
    location = /t {
        content_by_lua_block {
            local ok, e1 = pcall(ngx.log, "x", "msg")
            local ok2, e2 = pcall(ngx.log, 99, "msg")
            local ok3, e3 = pcall(ngx.log, ngx.ERR, "a", print)
            local ok4, e4 = pcall(ngx.log, ngx.ERR, {})
            ngx.say(e1) ngx.say(e2) ngx.say(e3) ngx.say(e4)
        }
    }
--- request
GET /t
--- response_body
bad argument #1 to 'log' (number expected, got string)
bad log level: 99
bad argument #2 to 'log' (string, number, boolean, or nil expected, got function)
bad argument #1 to 'log' (expected table to have __tostring metamethod)



=== TEST 5: ngx.null and tables with __tostring
--- config
    location = /t {
        content_by_lua_block {
            local t = setmetatable({}, { __tostring = function() return "I am t" end })
            ngx.log(ngx.WARN, "v: ", ngx.null, " ", t)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log
v: null I am t



=== TEST 6: file handlers log the base name of the file
--- config
    location = /t {
        content_by_lua_file html/logging.lua;
    }
--- user_files
>>> logging.lua
local function helper()
    ngx.log(ngx.ERR, "from a file")
end
helper()
ngx.say("ok")
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/\[error\] .*\[lua\] logging\.lua:2: helper\(\): from a file/



=== TEST 7: ngx.log and print in init_worker_by_lua: lines end with upstream's context
--- http_config
    init_worker_by_lua_block {
        ngx.log(ngx.WARN, "from init worker")
        print("printed in init worker")
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.log(ngx.WARN, "from a request")
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log eval
[
qr/\[warn\] .*init_worker_by_lua\S*:2: from init worker, context: init_worker_by_lua\*$/m,
qr/\[notice\] .*init_worker_by_lua\S*:3: printed in init worker, context: init_worker_by_lua\*$/m,
qr/from a request, client: 127\.0\.0\.1/,
]
--- no_error_log
[error]
