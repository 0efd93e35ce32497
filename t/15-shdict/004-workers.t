# ngx.shared.DICT across worker processes: one store, one lock.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: shdict: two workers incrementing one key at once end with the exact total
--- http_config
    lua_shared_dict counters 1m;
    init_worker_by_lua_block {
        local d = ngx.shared.counters
        -- both workers start together: the loops overlap
        for _ = 1, 200000 do
            d:incr("hits", 1, 0)
        end
        d:incr("done", 1, 0)
    }
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.counters
            for _ = 1, 300 do
                if d:get("done") == 2 then break end
                ngx.sleep(0.05)
            end
            ngx.say(d:get("done"), " ", d:get("hits"))
        }
    }
--- request
GET /t
--- response_body
2 400000
--- timeout: 20
--- no_error_log
[error]



=== TEST 2: shdict: a value set by one worker is read by the other
--- http_config
    lua_shared_dict dogs 1m;
    init_worker_by_lua_block {
        ngx.shared.dogs:rpush("pids", ngx.worker.pid())
    }
--- config
    location = /t {
        content_by_lua_block {
            local d = ngx.shared.dogs
            for _ = 1, 100 do
                if d:llen("pids") == 2 then break end
                ngx.sleep(0.05)
            end
            local a, b = d:lpop("pids"), d:lpop("pids")
            ngx.say(a ~= b, " ", a == ngx.worker.pid() or b == ngx.worker.pid())
        }
    }
--- request
GET /t
--- response_body
true true
--- no_error_log
[error]
