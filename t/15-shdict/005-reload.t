# A HUP reload keeps a zone and its data when name and size are unchanged
# (and the entries of a resized one: 010-resize.t).
use Test::Nginx::Socket::Lua;

master_on();
use_hup();
no_shuffle();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: shdict: data written before a reload
--- http_config
    lua_shared_dict dogs 1m;
    lua_shared_dict cats 64k;
--- config
    location = /t {
        content_by_lua_block {
            local dogs, cats = ngx.shared.dogs, ngx.shared.cats
            dogs:flush_all()
            dogs:flush_expired()
            dogs:set("name", "rex", 0, 3)
            dogs:incr("n", 41, 0)
            dogs:rpush("list", "a")
            cats:set("name", "tom")
            ngx.say("stored")
        }
    }
--- request
GET /t
--- response_body
stored
--- no_error_log
[error]



=== TEST 2: shdict: the reloaded configuration sees it; a resized zone keeps its entries
--- http_config
    lua_shared_dict dogs 1m;
    lua_shared_dict cats 128k;
    init_by_lua_block { seen_in_init = ngx.shared.dogs:get("name") }
--- config
    location = /t {
        content_by_lua_block {
            local dogs, cats = ngx.shared.dogs, ngx.shared.cats
            ngx.say(dogs:get("name"))
            ngx.say(dogs:incr("n", 1))
            ngx.say(dogs:lpop("list"))
            ngx.say("init saw: ", seen_in_init)
            ngx.say("cats: ", cats:get("name"), " ", cats:capacity())
        }
    }
--- request
GET /t
--- response_body
rex3
42
a
init saw: rex
cats: tom 131072
--- no_error_log
[error]
