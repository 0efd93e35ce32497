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



=== TEST 2: init_by_lua: os.getenv sees the values of env NAME=value (which nginx sets only in its workers), exactly by name; workers see them too
--- main_config
    env C24_FOO=hello;
    env C24_EMPTY=;
    env C24_BARE;
--- http_config
    init_by_lua_block {
        init_env = {
            foo = os.getenv("C24_FOO"),
            lower = os.getenv("c24_foo"),
            prefix = os.getenv("C24_FO"),
            empty = os.getenv("C24_EMPTY"),
            bare = os.getenv("C24_BARE"),
        }
    }
--- config
    location = /t {
        content_by_lua_block {
            local e = init_env
            ngx.say(e.foo, " ", e.lower, " ", e.prefix, " [", e.empty, "] ", e.bare)
            local before = os.getenv
            ngx.say(os.getenv("C24_FOO"), " ", os.getenv ~= before)
        }
    }
--- request
GET /t
--- response_body
hello nil nil [] nil
hello true
--- no_error_log
[error]
