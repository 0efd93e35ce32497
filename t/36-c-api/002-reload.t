# A zone declared through ngx_http_lua_shared_memory_add survives a HUP
# reload: the module's init gets the previous cycle's data.
use lib 't/lib';
use CApiTestModule;
use Test::Nginx::Socket::Lua;

BEGIN { CApiTestModule::build() }

master_on();
use_hup();
no_shuffle();
plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: shared_memory_add: a fresh zone
--- http_config
    capi_test_zone capi 64k;
--- config
    location = /t {
        content_by_lua_block {
            local capi = require "capi_test"
            capi.incr("capi")
            ngx.say(capi.incr("capi"), " ", capi.inits("capi"), " ", select(2, capi.inits("capi")))
        }
    }
--- request
GET /t
--- response_body
2 1 0
--- no_error_log
[error]



=== TEST 2: shared_memory_add: after a reload, the module's init got its old data
--- http_config
    capi_test_zone capi 64k;
--- config
    location = /t {
        content_by_lua_block {
            local capi = require "capi_test"
            ngx.say(capi.incr("capi"), " ", capi.inits("capi"), " ", select(2, capi.inits("capi")))
        }
    }
--- request
GET /t
--- response_body
3 1 1
--- no_error_log
[error]
