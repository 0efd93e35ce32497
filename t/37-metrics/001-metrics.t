# ngx.metrics and lua_metrics (an extension): per-worker counters of Lua
# handler runs, time and errors by location and phase, and gauges of
# timers, keepalive pools, shared dicts and the VM's memory, in
# Prometheus' text format.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_metrics: handler runs and errors counted exactly, by location and phase
--- config
    location = /t { content_by_lua_block { ngx.say("hi") } }
    location = /err { rewrite_by_lua_block { error("boom") } }
    location = /metrics { lua_metrics; }
    location = /main {
        content_by_lua_block {
            for _ = 1, 5 do ngx.location.capture("/t") end
            for _ = 1, 2 do ngx.location.capture("/err") end
            local res = ngx.location.capture("/metrics")
            ngx.say(res.status, " ", res.header["Content-Type"])
            for line in res.body:gmatch("[^\n]+") do
                if line:find('location="/t"', 1, true) or line:find('location="/err"', 1, true) then
                    if line:find("_seconds_total", 1, true) then
                        local v = tonumber(line:match(" (%S+)$"))
                        ngx.say(line:match("^(%S+) "), " > 0: ", v > 0 and v < 1)
                    else
                        ngx.say(line)
                    end
                end
            end
        }
    }
--- request
GET /main
--- response_body
200 text/plain; version=0.0.4; charset=utf-8
ngx_lua_handler_runs_total{worker="0",location="/err",phase="rewrite"} 2
ngx_lua_handler_runs_total{worker="0",location="/t",phase="content"} 5
ngx_lua_handler_seconds_total{worker="0",location="/err",phase="rewrite"} > 0: true
ngx_lua_handler_seconds_total{worker="0",location="/t",phase="content"} > 0: true
ngx_lua_errors_total{worker="0",location="/err",phase="rewrite"} 2
ngx_lua_errors_total{worker="0",location="/t",phase="content"} 0
--- error_log
boom



=== TEST 2: ngx.metrics: collect() after requests; timers, shared dicts, memory, filters and log handlers
--- http_config
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block { ngx.say("hi") }
        header_filter_by_lua_block { ngx.header["X-A"] = "1" }
        body_filter_by_lua_block { }
        log_by_lua_block { }
    }
    location = /metrics { lua_metrics; }
    location = /main {
        content_by_lua_block {
            local metrics = require "ngx.metrics"
            for _ = 1, 3 do ngx.location.capture("/t") end
            ngx.timer.at(100, function() end)
            ngx.timer.at(100, function() end)
            ngx.shared.dogs:set("k", string.rep("v", 10000))
            local m = assert(metrics.collect())
            local function get(s) return m[s] end
            ngx.say("content: ", get('ngx_lua_handler_runs_total{worker="0",location="/t",phase="content"}'))
            ngx.say("header_filter: ", get('ngx_lua_handler_runs_total{worker="0",location="/t",phase="header_filter"}'))
            -- the body filter sees the body and the last buffer
            ngx.say("body_filter: ", get('ngx_lua_handler_runs_total{worker="0",location="/t",phase="body_filter"}') >= 3)
            -- a subrequest runs no log phase
            ngx.say("log: ", get('ngx_lua_handler_runs_total{worker="0",location="/t",phase="log"}'))
            ngx.say("main: ", get('ngx_lua_handler_runs_total{worker="0",location="/main",phase="content"}'))
            ngx.say("timers: ", get('ngx_lua_timers_pending{worker="0"}'), " ", get('ngx_lua_timers_running{worker="0"}'))
            local cap = get('ngx_lua_shdict_capacity_bytes{zone="dogs"}')
            local free = get('ngx_lua_shdict_free_bytes{zone="dogs"}')
            ngx.say("dogs: ", cap, " ", free < cap)
            local mem = get('ngx_lua_memory_bytes{worker="0"}')
            ngx.say("memory: ", mem > 100000 and mem < 1e9)
            ngx.say("text: ", metrics.text():find("# TYPE ngx_lua_memory_bytes gauge\n", 1, true) ~= nil)
        }
    }
--- request
GET /main
--- response_body
content: 3
header_filter: 3
body_filter: true
log: nil
main: 1
timers: 2 0
dogs: 1048576 true
memory: true
text: true
--- no_error_log
[error]



=== TEST 3: ngx.metrics: keepalive pool hits, misses and idle connections
--- config
    location = /ka {
        content_by_lua_block {
            ngx.header.content_length = 2
            ngx.print("ok")
        }
    }
    location = /metrics { lua_metrics; }
    location = /main {
        content_by_lua_block {
            local metrics = require "ngx.metrics"
            local port = ngx.var.server_port
            local function fetch()
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", port))
                assert(sock:send("GET /ka HTTP/1.1\r\nHost: x\r\n\r\n"))
                assert(sock:receiveuntil("\r\n\r\n")())
                local body = assert(sock:receive(2))
                assert(sock:setkeepalive())
                return body
            end
            fetch()
            fetch()
            fetch()
            local m = metrics.collect()
            ngx.say("hits: ", m['ngx_lua_socket_pool_hits_total{worker="0"}'])
            ngx.say("misses: ", m['ngx_lua_socket_pool_misses_total{worker="0"}'])
            ngx.say("idle: ", m['ngx_lua_socket_pool_idle{worker="0",pool="127.0.0.1:' .. port .. '"}'])
        }
    }
--- request
GET /main
--- response_body
hits: 2
misses: 1
idle: 1
--- no_error_log
[error]



=== TEST 4: lua_metrics: valid Prometheus text; label values escaped
--- config
    location ~ '^/m"\\d+$' { content_by_lua_block { ngx.say("m") } }
    location = /metrics { lua_metrics; }
    location = /main {
        content_by_lua_block {
            ngx.location.capture('/m"1')
            local text = ngx.location.capture("/metrics").body
            -- Every sample belongs to the family whose HELP and TYPE lines
            -- came just before it; label values are escaped.
            -- {name="value",...}: only \\, \" and \n escapes in values
            local function valid_labels(s)
                local i = 2
                while true do
                    local name_end = s:match("^[%a_][%w_]*=\"()", i)
                    if not name_end then return false end
                    i = name_end
                    while true do
                        local c = s:sub(i, i)
                        if c == "" or c == "\n" then return false end
                        if c == '"' then break end
                        if c == "\\" then
                            local e = s:sub(i + 1, i + 1)
                            if e ~= "\\" and e ~= '"' and e ~= "n" then return false end
                            i = i + 1
                        end
                        i = i + 1
                    end
                    i = i + 1
                    local c = s:sub(i, i)
                    if c == "}" then return i == #s end
                    if c ~= "," then return false end
                    i = i + 1
                end
            end
            local family, typed, helped, bad, samples = nil, {}, {}, 0, 0
            for line in text:gmatch("([^\n]*)\n") do
                local h = line:match("^# HELP ([%w_:]+) .+$")
                local t, kind = line:match("^# TYPE ([%w_:]+) (%a+)$")
                if h then
                    family = h
                    if helped[h] then bad = bad + 1 end
                    helped[h] = true
                elseif t then
                    if t ~= family or typed[t] or (kind ~= "counter" and kind ~= "gauge") then bad = bad + 1 end
                    typed[t] = true
                else
                    local name, labels, value = line:match("^([%a_:][%w_:]*)(%b{}) (%S+)$")
                    if not name then
                        name, value = line:match("^([%a_:][%w_:]*) (%S+)$")
                    end
                    if not name or name ~= family or not typed[name] or not tonumber(value) then
                        ngx.say("bad line: ", line)
                        bad = bad + 1
                    end
                    if labels and not valid_labels(labels) then
                        ngx.say("bad labels: ", labels)
                        bad = bad + 1
                    end
                    samples = samples + 1
                end
            end
            ngx.say("bad: ", bad, ", samples: ", samples > 5, ", ends with a newline: ", text:sub(-1) == "\n")
            ngx.say(text:match('ngx_lua_handler_runs_total{[^\n]*location="%^/m[^\n]*'))
        }
    }
--- request
GET /main
--- response_body
bad: 0, samples: true, ends with a newline: true
ngx_lua_handler_runs_total{worker="0",location="^/m\"\\d+$",phase="content"} 1
--- no_error_log
[error]



=== TEST 5: ngx.metrics: without lua_metrics nothing is counted; the gauges are there
--- config
    location = /t { content_by_lua_block { ngx.say("hi") } }
    location = /main {
        content_by_lua_block {
            ngx.location.capture("/t")
            local text = require("ngx.metrics").text()
            ngx.say("runs: ", text:find("\nngx_lua_handler_runs_total{", 1, true))
            ngx.say("family: ", text:find("# TYPE ngx_lua_handler_runs_total counter", 1, true) ~= nil)
            ngx.say("timers: ", text:match('\nngx_lua_timers_pending{worker="0"} %d+'))
        }
    }
--- request
GET /main
--- response_body
runs: nil
family: true
timers: 
ngx_lua_timers_pending{worker="0"} 0
--- no_error_log
[error]



=== TEST 6: lua_metrics: balancer_by_lua runs and errors, in the location that proxies
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            if ngx.var.arg_fail then error("no peer") end
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "up"; }
    }
--- config
    location = /p { proxy_pass http://backend; }
    location = /metrics { lua_metrics; }
    location = /main {
        content_by_lua_block {
            ngx.location.capture("/p")
            ngx.location.capture("/p")
            ngx.location.capture("/p", { args = "fail=1" })
            local m = require("ngx.metrics").collect()
            ngx.say(m['ngx_lua_handler_runs_total{worker="0",location="/p",phase="balancer"}'], " ",
                    m['ngx_lua_errors_total{worker="0",location="/p",phase="balancer"}'])
        }
    }
--- request
GET /main
--- response_body
3 1
--- error_log
no peer



=== TEST 7: lua_metrics: refused outside a location
--- config
    lua_metrics;
    location = /t { return 200; }
--- must_die
--- error_log
"lua_metrics" directive is not allowed here



=== TEST 8: lua_metrics: takes no argument
--- config
    location = /metrics { lua_metrics on; }
--- must_die
--- error_log
invalid number of arguments in "lua_metrics" directive
