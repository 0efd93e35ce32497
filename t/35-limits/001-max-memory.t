# lua_max_memory (an extension): past the limit the running handler fails
# with "not enough memory", its request gets 500, and the VM and the
# worker go on.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_max_memory: many small tables (10x the limit) fail the handler, the same worker serves the next request
--- http_config
    lua_max_memory 16m;
    lua_shared_dict d 1m;
--- config
    location = /alloc {
        content_by_lua_block {
            ngx.shared.d:set("pid", ngx.worker.pid())
            local t = {}
            for i = 1, 10 * 16 * 1024 * 1024 / 32 do
                t[i] = { i }
            end
            ngx.say("allocated ", #t)
        }
    }
    location = /ok {
        content_by_lua_block {
            local same = ngx.shared.d:get("pid") == ngx.worker.pid()
            ngx.say(same and "same worker" or "another worker", " ",
                    collectgarbage("count") * 1024 < 16 * 1024 * 1024)
        }
    }
--- request eval
["GET /alloc", "GET /ok"]
--- error_code eval
[500, 200]
--- response_body_like eval
["500 Internal Server Error", "^same worker true\$"]
--- no_error_log eval
["[alert]", "[crit]"]



=== TEST 2: lua_max_memory: the failed handler's log lines name the limit, the handler and the error
--- http_config
    lua_max_memory 16m;
--- config
    location = /alloc {
        content_by_lua_block {
            local t = {}
            for i = 1, 10 * 16 * 1024 * 1024 / 32 do
                t[i] = { i }
            end
            ngx.say("allocated ", #t)
        }
    }
--- request
GET /alloc
--- error_code: 500
--- error_log eval
[qr/\[error\] .*lua_max_memory 16777216 bytes reached in content_by_lua\*: an allocation of \d+ bytes was refused, the Lua VM holds \d+ bytes, client: .*request: "GET \/alloc/,
 qr/lua entry thread aborted: \[lua\] memory allocation error: not enough memory/,
 qr/^\s+content_by_lua\(nginx\.conf:\d+\)(?::\d+)?: in main chunk/]



=== TEST 3: lua_max_memory: one big string past the limit
--- http_config
    lua_max_memory 16m;
--- config
    location = /t {
        content_by_lua_block {
            local s = string.rep("x", 64 * 1024 * 1024)
            ngx.say(#s)
        }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
[qr/lua_max_memory 16777216 bytes reached in content_by_lua\*: an allocation of \d{8,} bytes was refused/,
 "in function 'rep'"]



=== TEST 4: lua_max_memory: a pcall inside the handler catches the error and the handler goes on
--- http_config
    lua_max_memory 16m;
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(function()
                local t = {}
                for i = 1, 1e8 do t[i] = { i } end
            end)
            collectgarbage()
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
false not enough memory
--- error_log
lua_max_memory 16777216 bytes reached in content_by_lua*



=== TEST 5: lua_max_memory: the limit holds in a timer, and the worker goes on
--- http_config
    lua_max_memory 16m;
    lua_shared_dict d 1m;
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function()
                local t = {}
                for i = 1, 1e8 do t[i] = { i } end
                ngx.shared.d:set("done", true)
            end)
            ngx.sleep(0.2)
            ngx.say("timer finished: ", ngx.shared.d:get("done") == true)
        }
    }
--- request
GET /t
--- response_body
timer finished: false
--- error_log eval
[qr/lua_max_memory 16777216 bytes reached in ngx\.timer: an allocation of \d+ bytes was refused/,
 qr/lua entry thread aborted: .*not enough memory/]



=== TEST 6: lua_max_memory: no limit is hit below it
--- http_config
    lua_max_memory 64m;
--- config
    location = /t {
        content_by_lua_block {
            local t = {}
            for i = 1, 100000 do t[i] = { i } end
            ngx.say(#t, " ", #string.rep("x", 8 * 1024 * 1024))
        }
    }
--- request
GET /t
--- response_body
100000 8388608
--- no_error_log
[error]



=== TEST 7: lua_max_memory: in init_worker_by_lua the handler fails and the worker serves
--- http_config
    lua_max_memory 16m;
    init_worker_by_lua_block {
        local t = {}
        for i = 1, 1e8 do t[i] = { i } end
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("serving, heap below the limit: ", collectgarbage("count") * 1024 < 16 * 1024 * 1024)
        }
    }
--- request
GET /t
--- response_body
serving, heap below the limit: true
--- error_log eval
[qr/lua_max_memory 16777216 bytes reached in init_worker_by_lua\*/,
 qr/init_worker_by_lua error: not enough memory/]



=== TEST 8: lua_max_memory: an invalid size is refused at nginx -t
--- http_config
    lua_max_memory 16q;
--- config
--- must_die
--- error_log
invalid value "16q"



=== TEST 9: lua_max_memory: zero is refused
--- http_config
    lua_max_memory 0;
--- config
--- must_die
--- error_log
invalid value "0"



=== TEST 10: lua_max_memory: a limit below what the VM already holds is refused
--- http_config
    lua_max_memory 4k;
--- config
--- must_die
--- error_log eval
qr/lua_max_memory 4096 is below what the Lua VM holds after loading resty\.core \(\d+ bytes\)/



=== TEST 11: lua_max_memory: not allowed in a location
--- config
    location = /t {
        lua_max_memory 16m;
    }
--- must_die
--- error_log
"lua_max_memory" directive is not allowed here



=== TEST 12: lua_max_memory: duplicate
--- http_config
    lua_max_memory 16m;
    lua_max_memory 32m;
--- config
--- must_die
--- error_log
"lua_max_memory" directive is duplicate



=== TEST 7: lua_max_memory: under an address-space limit (prlimit) the worker survives 10x the limit in small tables
Without lua_max_memory the same allocations exhaust the worker's 256 MiB of
address space, and the next request's set-up cannot allocate either.
--- rlimit_as: 268435456
--- http_config
    lua_max_memory 32m;
    lua_shared_dict d 1m;
--- config
    location = /alloc {
        content_by_lua_block {
            ngx.shared.d:set("pid", ngx.worker.pid())
            local t = {}
            for i = 1, 10 * 32 * 1024 * 1024 / 32 do
                t[i] = { i }
            end
            ngx.say("allocated ", #t)
        }
    }
    location = /ok {
        content_by_lua_block {
            local f = assert(io.open("/proc/self/limits"))
            local limits = f:read("*a")
            f:close()
            ngx.say(ngx.shared.d:get("pid") == ngx.worker.pid() and "same worker" or "another worker",
                    ", address space limit ", limits:match("Max address space%s+(%d+)"))
        }
    }
--- request eval
["GET /alloc", "GET /ok", "GET /alloc", "GET /ok"]
--- error_code eval
[500, 200, 500, 200]
--- response_body_like eval
["500 Internal Server Error", "^same worker, address space limit 268435456\$",
 "500 Internal Server Error", "^same worker, address space limit 268435456\$"]
--- no_error_log eval
["[alert]", "[crit]"]
