# lua_capture_error_log with several workers: as upstream, each process
# captures into its own copy of the buffer.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
log_level('warn');
plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: lua_capture_error_log: each worker reads the lines it logged, from init_worker to requests
--- http_config
    lua_capture_error_log 16k;
    init_worker_by_lua_block {
        ngx.log(ngx.ERR, "marker init_worker ", ngx.worker.pid())
        ngx.timer.at(0, function()
            ngx.log(ngx.WARN, "marker timer ", ngx.worker.pid())
        end)
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.1)
            ngx.log(ngx.ERR, "marker request ", ngx.worker.pid())
            local me = tostring(ngx.worker.pid())
            local res = require("ngx.errlog").get_logs(100)
            local seen, foreign = {}, 0
            for i = 1, #res, 3 do
                local pid_in_prefix = res[i + 2]:match("%] (%d+)#")
                local what, pid = res[i + 2]:match("marker ([%a_]+) (%d+)")
                if what then
                    if pid ~= me or pid_in_prefix ~= me then
                        foreign = foreign + 1
                    end
                    seen[#seen + 1] = what .. "/" .. res[i]
                end
            end
            ngx.say(table.concat(seen, " "), "; foreign ", foreign)
        }
    }
--- request
GET /t
--- response_body
init_worker/4 timer/5 request/4; foreign 0
--- no_error_log
[crit]
