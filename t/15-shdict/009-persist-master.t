# persist=PATH with a master and two workers: the master saves at exit,
# a reload that keeps the zone loads nothing, a resized zone keeps the
# running zone's entries rather than the older snapshot's.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
use_hup();
no_shuffle();
plan 'no_plan';

$ENV{TEST_NGINX_PERSIST_DIR} = "$ENV{TEST_NGINX_SERVROOT}/persist";
use File::Path ();
File::Path::remove_tree($ENV{TEST_NGINX_PERSIST_DIR});
File::Path::make_path($ENV{TEST_NGINX_PERSIST_DIR});

run_tests();

__DATA__

=== TEST 1: shdict persist: data written under a master
--- no_hup
--- http_config
    lua_shared_dict dogs 1m persist=$TEST_NGINX_PERSIST_DIR/dogs.snap;
--- config
    location = /t {
        content_by_lua_block {
            ngx.shared.dogs:set("name", "rex", 0, 5)
            ngx.say("stored")
        }
    }
--- request
GET /t
--- response_body
stored
--- no_error_log
[error]



=== TEST 2: shdict persist: the master saved it at exit, the new master loads it
--- no_hup
--- http_config
    lua_shared_dict dogs 1m persist=$TEST_NGINX_PERSIST_DIR/dogs.snap;
--- config
    location = /t {
        content_by_lua_block {
            ngx.shared.dogs:set("more", 1)
            ngx.say(ngx.shared.dogs:get("name"))
        }
    }
--- request
GET /t
--- response_body
rex5
--- error_log eval
qr/lua_shared_dict "dogs" persist file "[^"]*dogs.snap": loaded 1 of 1 entries/
--- no_error_log
[error]



=== TEST 3: shdict persist: a reload that keeps the zone keeps its memory and loads nothing
--- http_config
    lua_shared_dict dogs 1m persist=$TEST_NGINX_PERSIST_DIR/dogs.snap;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.shared.dogs:get("name"), " ", ngx.shared.dogs:get("more"))
        }
    }
--- request
GET /t
--- response_body
rex 1
--- no_error_log
[error]
persist file



=== TEST 4: shdict persist: a reload that resizes the zone copies the running zone, fresher than the snapshot (TEST 1's: TEST 2's master still runs)
--- http_config
    lua_shared_dict dogs 2m persist=$TEST_NGINX_PERSIST_DIR/dogs.snap;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.shared.dogs:get("name"), " ", ngx.shared.dogs:get("more"), " ", ngx.shared.dogs:capacity())
        }
    }
--- request
GET /t
--- response_body
rex 1 2097152
--- error_log
lua_shared_dict "dogs" resized from 1048576 to 2097152 bytes: kept 2 of 2 entries
--- no_error_log
[error]
persist file



=== TEST 5: shdict persist: a zone a reload adds (here under a new name) loads its snapshot
--- http_config
    lua_shared_dict cats 1m persist=$TEST_NGINX_PERSIST_DIR/dogs.snap;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.shared.cats:get("name"), " ", ngx.shared.cats:get("more"), " ", ngx.shared.dogs)
        }
    }
--- request
GET /t
--- response_body
rex nil nil
--- error_log eval
qr/lua_shared_dict "cats" persist file "[^"]*dogs.snap": loaded 1 of 1 entries/
--- no_error_log
[error]
resized
