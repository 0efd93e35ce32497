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



=== TEST 3: shdict: requests to two workers incrementing one key leave the exact count
--- http_config
    lua_shared_dict counters 1m;
--- config
    location = /hit {
        content_by_lua_block {
            ngx.shared.counters:incr("hits", 1, 0)
            ngx.shared.counters:incr("by" .. ngx.worker.id(), 1, 0)
            ngx.header.content_length = 2
            ngx.print("ok")
        }
    }
    location = /t {
        content_by_lua_block {
            local port = ngx.var.server_port
            -- 10 connections at once, 50 keepalive requests each: the
            -- workers accept them as they come.
            local function client()
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", port))
                local read_head = sock:receiveuntil("\r\n\r\n")
                for _ = 1, 50 do
                    assert(sock:send("GET /hit HTTP/1.1\r\nHost: x\r\n\r\n"))
                    assert(read_head())
                    assert(sock:receive(2) == "ok")
                end
                sock:close()
            end
            local threads = {}
            for i = 1, 10 do threads[i] = ngx.thread.spawn(client) end
            for i = 1, 10 do assert(ngx.thread.wait(threads[i])) end
            local d = ngx.shared.counters
            ngx.say(d:get("hits"), " ", (d:get("by0") or 0) + (d:get("by1") or 0))
        }
    }
--- request
GET /t
--- response_body
500 500
--- timeout: 20
--- no_error_log
[error]
