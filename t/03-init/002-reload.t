# A HUP reload builds a new VM and re-runs init_by_lua in the master.
use Test::Nginx::Socket::Lua;

master_on();
use_hup();
no_shuffle();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: first configuration
--- http_config
    init_by_lua_block { generation = "one" loaded_at = ngx.now() }
--- config
    location = /t {
        content_by_lua_block { ngx.say(generation) }
    }
--- request
GET /t
--- response_body
one



=== TEST 2: reloaded configuration sees its own init state
--- http_config
    init_by_lua_block { generation = "two" }
--- config
    location = /t {
        content_by_lua_block { ngx.say(generation, " ", loaded_at == nil) }
    }
--- request
GET /t
--- response_body
two true
