# lua_shared_dict: configuration errors at nginx -t, init_by_lua ordering.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: shdict: a size below upstream's minimum (8192 bytes)
--- http_config
    lua_shared_dict dogs 8191;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
invalid lua shared dict size "8191"



=== TEST 2: shdict: a size that is not a size
--- http_config
    lua_shared_dict dogs big;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
invalid lua shared dict size "big"



=== TEST 3: shdict: the same name twice
--- http_config
    lua_shared_dict dogs 1m;
    lua_shared_dict dogs 1m;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
lua_shared_dict "dogs" is already defined as "dogs"



=== TEST 4: shdict: the same name with another size
--- http_config
    lua_shared_dict dogs 1m;
    lua_shared_dict dogs 2m;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
the size 2097152 of shared memory zone "dogs" conflicts with already declared size 1048576



=== TEST 5: shdict: a name taken by another module's zone
--- http_config
    limit_req_zone $binary_remote_addr zone=dogs:1m rate=1r/s;
    lua_shared_dict dogs 1m;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
the shared memory zone "dogs" is already declared for a different use



=== TEST 6: shdict: wrong number of arguments, wrong context
--- http_config
    lua_shared_dict dogs;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
invalid number of arguments in "lua_shared_dict" directive



=== TEST 7: shdict: not allowed in a server block
--- config
    lua_shared_dict dogs 1m;
    location = /t { return 200; }
--- must_die
--- error_log
"lua_shared_dict" directive is not allowed here



=== TEST 8: shdict: a declared but unused zone is fine; 8192 bytes is accepted
--- http_config
    lua_shared_dict unused 8192;
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.shared.unused:capacity(), " ", ngx.shared.unused:set("k", 1))
        }
    }
--- request
GET /t
--- response_body
8192 truenilfalse
--- no_error_log
[error]



=== TEST 9: shdict: init_by_lua runs once, after every zone is ready, and its errors stop nginx
--- http_config
    lua_shared_dict a 1m;
    lua_shared_dict b 1m;
    init_by_lua_block {
        ngx.shared.a:incr("runs", 1, 0)
        ngx.shared.b:set("phase", ngx.get_phase())
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.shared.a:get("runs"), " ", ngx.shared.b:get("phase"))
        }
    }
--- request
GET /t
--- response_body
1 init
--- no_error_log
[error]



=== TEST 10: shdict: an init_by_lua error with zones fails the start
--- http_config
    lua_shared_dict a 1m;
    init_by_lua_block { error("init boom") }
--- config
    location = /t { return 200; }
--- must_die
--- error_log
init boom
