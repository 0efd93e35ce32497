# init_by_lua* sees the configuration being loaded through the APIs that
# read nginx's current cycle.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: init_by_lua: ngx.worker.count() reports the configured worker_processes, ngx.config.prefix() the prefix
--- http_config
    init_by_lua_block {
        count = ngx.worker.count()
        prefix = ngx.config.prefix()
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(count, " ", ngx.worker.count())
            ngx.say(prefix == ngx.config.prefix(), " ", #prefix > 0)
        }
    }
--- request
GET /t
--- response_body
2 2
true true
--- no_error_log
[error]
