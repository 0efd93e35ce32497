# ngx.errlog and lua_capture_error_log: capture, filter levels, a full
# buffer, raw_log, the error log's level.
use Test::Nginx::Socket::Lua;

log_level('info');
no_long_string();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.errlog.get_logs: level, time and the whole line, oldest first
--- http_config
    lua_capture_error_log 64k;
--- config
    location = /t {
        content_by_lua_block {
            ngx.log(ngx.ERR, "first one")
            ngx.log(ngx.WARN, "second one")
            local errlog = require "ngx.errlog"
            local res = assert(errlog.get_logs())
            ngx.say(#res / 3)
            for i = 1, #res, 3 do
                ngx.say(res[i], " ", math.abs(res[i + 1] - ngx.now()) < 2, " ", res[i + 2])
            end
            ngx.say(#assert(errlog.get_logs()))
        }
    }
--- log_level: warn
--- request
GET /t
--- response_body_like chomp
\A2
4 true \d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] \d+#\d+: \*\d+ \[lua\] content_by_lua\(nginx.conf:\d+\):2: first one, client: 127.0.0.1, server: localhost, request: "GET /t HTTP/1.1", host: "localhost"
5 true \d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[warn\] \d+#\d+: \*\d+ \[lua\] content_by_lua\(nginx.conf:\d+\):3: second one, client: 127.0.0.1, server: localhost, request: "GET /t HTTP/1.1", host: "localhost"
0
\z



=== TEST 2: ngx.errlog.set_filter_level: from init_by_lua, only WARN and more severe kept
--- http_config
    lua_capture_error_log 64k;
    init_by_lua_block {
        local errlog = require "ngx.errlog"
        assert(errlog.set_filter_level(ngx.WARN))
    }
--- config
    location = /t {
        access_by_lua_block {
            ngx.log(ngx.INFO, "lvl info")
            ngx.log(ngx.NOTICE, "lvl notice")
            ngx.log(ngx.WARN, "lvl warn")
            ngx.log(ngx.ERR, "lvl err")
            ngx.log(ngx.CRIT, "lvl crit")
        }
        content_by_lua_block {
            local res = require("ngx.errlog").get_logs(100)
            for i = 1, #res, 3 do
                ngx.say(res[i], " ", res[i + 2]:match("lvl %a+"))
            end
        }
    }
--- request
GET /t
--- response_body
5 lvl warn
4 lvl err
3 lvl crit
--- grep_error_log eval
qr/lvl \w+/
--- grep_error_log_out
lvl info
lvl notice
lvl warn
lvl err
lvl crit



=== TEST 3: ngx.errlog.get_logs: a full 4k buffer keeps the newest lines, in order, at every level
--- http_config
    lua_capture_error_log 4k;
--- config
    location = /t {
        access_by_lua_block {
            local errlog = require "ngx.errlog"
            assert(errlog.set_filter_level(ngx.NOTICE))
            for i = 1, 100 do
                ngx.log(ngx.INFO, "n=", i)
                ngx.log(ngx.NOTICE, "n=", i)
                ngx.log(ngx.WARN, "n=", i)
                ngx.log(ngx.ERR, "n=", i)
            end
        }
        content_by_lua_block {
            local res = require("ngx.errlog").get_logs(1000)
            local n = #res / 3
            -- each line is ~150 bytes plus a 16-byte header
            ngx.say(n >= 20 and n <= 27)
            local prev, ok = nil, true
            for i = 1, #res, 3 do
                local v = tonumber(res[i + 2]:match("n=(%d+)"))
                local key = v * 10 + (8 - res[i])
                if prev and key <= prev then ok = false end
                prev = key
                if res[i] == ngx.INFO then ok = false end
            end
            ngx.say("ascending ", ok, ", last ", res[#res]:match("n=%d+"), " level ", res[#res - 2])
        }
    }
--- request
GET /t
--- response_body
true
ascending true, last n=100 level 4



=== TEST 4: ngx.errlog.get_logs: max and a table of the caller's, ended with a nil
--- http_config
    lua_capture_error_log 64k;
--- config
    location = /t {
        content_by_lua_block {
            ngx.log(ngx.ERR, "a1")
            ngx.log(ngx.ERR, "a22")
            ngx.log(ngx.ERR, "a333")
            local errlog = require "ngx.errlog"
            local t = { "x", "x", "x", "x", "x", "x", "x", "x" }
            local res = errlog.get_logs(2, t)
            ngx.say(res == t, " ", res[1] == ngx.ERR and res[4] == ngx.ERR, " ", res[3]:match("a%d+"), " ", res[6]:match("a%d+"), " ", res[7], " ", res[8])
            res = errlog.get_logs(2, t)
            ngx.say(res[4] == nil, " ", res[3]:match("a%d+"))
            res = errlog.get_logs(0)
            ngx.say(#res)
        }
    }
--- log_level: warn
--- request
GET /t
--- response_body
true true a1 a22 nil x
true a333
0



=== TEST 5: ngx.errlog: without lua_capture_error_log
--- config
    location = /t {
        content_by_lua_block {
            local errlog = require "ngx.errlog"
            ngx.say(errlog.get_logs())
            ngx.say(errlog.set_filter_level(ngx.ERR))
        }
    }
--- request
GET /t
--- response_body
nildirective "lua_capture_error_log" is not set
nildirective "lua_capture_error_log" is not set



=== TEST 6: ngx.errlog.set_filter_level: bad and missing levels
--- http_config
    lua_capture_error_log 4k;
--- config
    location = /t {
        content_by_lua_block {
            local errlog = require "ngx.errlog"
            ngx.say(errlog.set_filter_level())
            ngx.say(errlog.set_filter_level(9))
            ngx.say(errlog.set_filter_level(-1))
        }
    }
--- request
GET /t
--- response_body
nilmissing "level" argument
nilbad log level: 9
nilbad log level: -1



=== TEST 7: lua_capture_error_log: a size below 4k is refused
--- http_config
    lua_capture_error_log 3k;
--- config
    location = /t {
        return 200;
    }
--- must_die
--- error_log
invalid capture error log size "3k", minimum size is 4096



=== TEST 8: lua_capture_error_log: duplicate
--- http_config
    lua_capture_error_log 4k;
    lua_capture_error_log 8k;
--- config
    location = /t {
        return 200;
    }
--- must_die
--- error_log
"lua_capture_error_log" directive is duplicate



=== TEST 9: ngx.errlog.raw_log: the message as is, at the given level; bad input
--- http_config
    lua_capture_error_log 64k;
--- config
    location = /t {
        content_by_lua_block {
            local errlog = require "ngx.errlog"
            errlog.raw_log(ngx.WARN, "raw message here")
            local res = errlog.get_logs()
            ngx.say(res[1], " ", res[3]:match("%[warn%] %d+#%d+: %*%d+ (raw message here), client"))
            for _, args in ipairs{ { "x", "m" }, { ngx.ERR, 1 }, { 9, "m" }, { -1, "m" } } do
                local ok, err = pcall(errlog.raw_log, args[1], args[2])
                ngx.say(err)
            end
        }
    }
--- log_level: warn
--- request
GET /t
--- response_body_like chomp
\A5 raw message here
.*bad argument #1 to 'raw_log' \(must be a number\)
.*bad argument #2 to 'raw_log' \(must be a string\)
.*bad log level
.*bad log level
\z
--- error_log eval
qr/\[warn\] \d+#\d+: \*\d+ raw message here, client: 127.0.0.1/



=== TEST 10: ngx.errlog.raw_log: from a timer, with the timer's context
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                require("ngx.errlog").raw_log(ngx.NOTICE, "timer raw line")
            end)
            ngx.sleep(0.01)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/\[notice\] \d+#\d+: \*\d+ timer raw line, context: ngx\.timer/



=== TEST 11: ngx.errlog.get_sys_filter_level: the error_log level, in a request, init and init_worker
--- http_config
    init_by_lua_block {
        _G.at_init = require("ngx.errlog").get_sys_filter_level()
    }
    init_worker_by_lua_block {
        _G.at_init_worker = require("ngx.errlog").get_sys_filter_level()
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(require("ngx.errlog").get_sys_filter_level() == ngx.WARN,
                    " ", at_init >= ngx.WARN, " ", at_init_worker == ngx.WARN)
        }
    }
--- log_level: warn
--- request
GET /t
--- response_body
true true true



=== TEST 12: ngx.errlog.get_sys_filter_level: debug
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(require("ngx.errlog").get_sys_filter_level() == ngx.DEBUG)
        }
    }
--- log_level: debug
--- request
GET /t
--- response_body
true



=== TEST 13: lua_capture_error_log: lines of a location with an error_log of its own, and nginx's own lines
--- http_config
    lua_capture_error_log 64k;
--- config
    location = /own {
        error_log logs/own.log warn;
        content_by_lua_block {
            ngx.log(ngx.ERR, "in own log")
            ngx.exit(200)
        }
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/own")
            res = ngx.location.capture("/nosuchfile")
            local logs = require("ngx.errlog").get_logs(100)
            for i = 1, #logs, 3 do
                local m = logs[i + 2]:match("in own log") or logs[i + 2]:match("open%(%) \"[^\"]*nosuchfile\" failed")
                if m then ngx.say(logs[i], " ", (m:gsub("\"/.*/", "\""))) end
            end
        }
    }
--- log_level: warn
--- request
GET /t
--- response_body
4 in own log
4 open() "nosuchfile" failed
--- error_log
open()



=== TEST 14: lua_capture_error_log: nginx's start-up notices are not captured, as upstream's hook on the running cycle
--- http_config
    lua_capture_error_log 4k;
--- config
    location = /t {
        content_by_lua_block {
            ngx.log(ngx.ERR, "the request's line")
            local res = require("ngx.errlog").get_logs()
            local startup, mine = 0, 0
            for i = 1, #res, 3 do
                local line = res[i + 2]
                if line:find("getrlimit(", 1, true) or line:find(": OS: ", 1, true)
                   or line:find("#%d+: nginx/%d")
                then
                    startup = startup + 1
                end
                if line:find("the request's line", 1, true) then
                    mine = mine + 1
                end
            end
            ngx.say("start-up notices: ", startup, ", the request's: ", mine)
        }
    }
--- log_level: info
--- request
GET /t
--- response_body
start-up notices: 0, the request's: 1
--- no_error_log
[crit]
