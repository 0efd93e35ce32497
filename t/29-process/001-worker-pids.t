# ngx.worker.pids: the pids of the running workers, as the master
# announced them to each other.
use Test::Nginx::Socket::Lua;

master_on();
workers(4);
plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: ngx.worker.pids: every worker of four, from a timer
--- config
    location = /t {
        content_by_lua_block {
            local res
            ngx.timer.at(0, function()
                -- the master announces each worker to the others after it
                -- spawned them all
                ngx.sleep(0.3)
                res = ngx.worker.pids()
            end)
            ngx.sleep(0.4)
            local seen, me = {}, false
            for _, pid in ipairs(res) do
                seen[pid] = true
                if pid == ngx.worker.pid() then me = true end
            end
            local n = 0
            for _ in pairs(seen) do n = n + 1 end
            ngx.say(#res, " distinct ", n, " self ", me)
        }
    }
--- request
GET /t
--- response_body
4 distinct 4 self true
--- no_error_log
[error]



=== TEST 2: ngx.worker.pids: refused in init_by_lua and init_worker_by_lua
--- http_config
    init_by_lua_block {
        _G.init_res = { ngx.worker.pids() }
    }
    init_worker_by_lua_block {
        _G.iw_res = { ngx.worker.pids() }
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(tostring(init_res[1]), " ", init_res[2])
            ngx.say(tostring(iw_res[1]), " ", iw_res[2])
        }
    }
--- request
GET /t
--- response_body
nil API disabled in the current context
nil API disabled in the current context
--- no_error_log
[error]
