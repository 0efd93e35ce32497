# Several workers serving Lua handlers side by side.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: concurrent sleeping requests each get their own answer
--- config
    location = /t {
        content_by_lua_block {
            local id = ngx.var and 0
            ngx.sleep(0.02)
            ngx.say("worker ", ngx.worker.id() ~= nil, " of ", ngx.worker.count())
        }
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- response_body eval
["worker true of 2\n", "worker true of 2\n", "worker true of 2\n", "worker true of 2\n"]
--- no_error_log
[error]



=== TEST 2: init_by_lua state is inherited by every worker through fork
--- http_config
    init_by_lua_block { shared_at_init = { pid = ngx.worker.pid() } }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(shared_at_init.pid ~= ngx.worker.pid())
        }
    }
--- request
GET /t
--- response_body
true
