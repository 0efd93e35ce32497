# lua_shared_dict ... persist=PATH (an extension beyond upstream): a zone
# saved when nginx exits is loaded when nginx next creates it. Each block
# is its own nginx start, so a block reads what the one before it saved.
use Test::Nginx::Socket::Lua;

no_shuffle();
plan 'no_plan';

$ENV{TEST_NGINX_PERSIST_DIR} = "$ENV{TEST_NGINX_SERVROOT}/persist";
use File::Path ();
File::Path::remove_tree($ENV{TEST_NGINX_PERSIST_DIR});
File::Path::make_path($ENV{TEST_NGINX_PERSIST_DIR});

run_tests();

__DATA__

=== TEST 1: shdict persist: a fresh zone with no file starts empty, and is saved at exit
--- no_hup
--- http_config
    lua_shared_dict dogs 1m persist=$TEST_NGINX_PERSIST_DIR/dogs.snap;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            ngx.say("empty: ", #dogs:get_keys(0))
            dogs:set("str", "hello", 0, 42)
            dogs:set("num", 3.25)
            dogs:set("bool", true, 0, 7)
            dogs:set("ttl", "soon", 100)
            dogs:set("gone", "x", 0.2)
            dogs:rpush("list", "a")
            dogs:rpush("list", 2)
            ngx.sleep(0.3)
            ngx.say("gone: ", dogs:get("gone"))
        }
    }
--- request
GET /t
--- response_body
empty: 0
gone: nil
--- no_error_log
[error]
persist file



=== TEST 2: shdict persist: after a restart, values, flags, TTLs and lists are back; expired entries are not
--- no_hup
--- http_config
    lua_shared_dict dogs 1m persist=$TEST_NGINX_PERSIST_DIR/dogs.snap;
--- config
    location = /t {
        content_by_lua_block {
            local dogs = ngx.shared.dogs
            ngx.say(dogs:get("str"))
            ngx.say(dogs:get("num"))
            ngx.say(dogs:get("bool"))
            local ttl = dogs:ttl("ttl")
            ngx.say("ttl kept: ", ttl > 95 and ttl <= 100)
            ngx.say("no ttl: ", dogs:ttl("str"))
            ngx.say("gone: ", dogs:get_stale("gone"))
            ngx.say("list: ", dogs:llen("list"), " ", dogs:lpop("list"), " ", dogs:lpop("list"))
        }
    }
--- request
GET /t
--- response_body
hello42
3.25
true7
ttl kept: true
no ttl: 0
gone: nil
list: 2 a 2
--- error_log eval
qr/lua_shared_dict "dogs" persist file "[^"]*dogs.snap": loaded 5 of 5 entries \(0 expired, 0 evicted, 0 did not fit\)/
--- no_error_log
[error]



=== TEST 3: shdict persist: a zone of another size loads the same file; what does not fit is counted
--- no_hup
--- http_config
    lua_shared_dict big 4m persist=$TEST_NGINX_PERSIST_DIR/big.snap;
--- config
    location = /t {
        content_by_lua_block {
            local big = ngx.shared.big
            for i = 1, 2000 do
                big:set("key" .. i, string.rep("v", 200))
            end
            ngx.say(#big:get_keys(0))
        }
    }
--- request
GET /t
--- response_body
2000
--- no_error_log
[error]



=== TEST 4: shdict persist: loaded into a smaller zone, the most recent entries stay
--- no_hup
--- http_config
    lua_shared_dict big 64k persist=$TEST_NGINX_PERSIST_DIR/big.snap;
--- config
    location = /t {
        content_by_lua_block {
            local big = ngx.shared.big
            local n = #big:get_keys(0)
            ngx.say("some: ", n > 50 and n < 2000)
            ngx.say("newest: ", big:get("key2000") ~= nil)
            ngx.say("oldest: ", big:get("key1"))
        }
    }
--- request
GET /t
--- response_body
some: true
newest: true
oldest: nil
--- error_log eval
qr/lua_shared_dict "big" persist file "[^"]*big.snap": loaded \d+ of 2000 entries \(0 expired, [1-9]\d* evicted, \d+ did not fit\)/
--- no_error_log
[error]



=== TEST 5: shdict persist: (truncated, garbage, corrupted and other-version files for the next block)
--- no_hup
--- config
    location = /t {
        content_by_lua_block {
            local dir = "$TEST_NGINX_PERSIST_DIR/"
            local f = assert(io.open(dir .. "dogs.snap", "rb"))
            local data = f:read("*a")
            f:close()
            f = assert(io.open(dir .. "cut.snap", "wb"))
            f:write(data:sub(1, #data - 3))
            f:close()
            f = assert(io.open(dir .. "junk.snap", "wb"))
            f:write("not a snapshot at all\n")
            f:close()
            -- one byte of the body changed
            f = assert(io.open(dir .. "flip.snap", "wb"))
            f:write(data:sub(1, 60), string.char((data:byte(61) + 1) % 256), data:sub(62))
            f:close()
            -- version 2 (the byte after the 8-byte magic)
            f = assert(io.open(dir .. "v2.snap", "wb"))
            f:write(data:sub(1, 8), "\2", data:sub(10))
            f:close()
            ngx.say(#data > 60)
        }
    }
--- request
GET /t
--- response_body
true
--- no_error_log
[error]



=== TEST 6: shdict persist: a truncated, garbage, corrupted or other-version file (or no file at all) is refused with a clear line, the zone starts empty
--- no_hup
--- http_config
    lua_shared_dict cut 1m persist=$TEST_NGINX_PERSIST_DIR/cut.snap;
    lua_shared_dict junk 1m persist=$TEST_NGINX_PERSIST_DIR/junk.snap;
    lua_shared_dict flip 1m persist=$TEST_NGINX_PERSIST_DIR/flip.snap;
    lua_shared_dict v2 1m persist=$TEST_NGINX_PERSIST_DIR/v2.snap;
    lua_shared_dict dir 1m persist=$TEST_NGINX_PERSIST_DIR;
--- config
    location = /t {
        content_by_lua_block {
            local n = 0
            for _, name in ipairs({"cut", "junk", "flip", "v2", "dir"}) do
                n = n + #ngx.shared[name]:get_keys(0)
            end
            ngx.say("keys: ", n)
        }
    }
--- request
GET /t
--- response_body
keys: 0
--- shutdown_error_log eval
qr/\[error\] .*lua_shared_dict "dir" persist file "[^"]*persist": cannot save: not a regular file/
--- error_log eval
[
qr/\[error\] .*lua_shared_dict "cut" persist file "[^"]*cut.snap": ignored: truncated file, starting empty/,
qr/\[error\] .*lua_shared_dict "junk" persist file "[^"]*junk.snap": ignored: not a shared dict snapshot \(bad magic\), starting empty/,
qr/\[error\] .*lua_shared_dict "flip" persist file "[^"]*flip.snap": ignored: checksum mismatch, starting empty/,
qr/\[error\] .*lua_shared_dict "v2" persist file "[^"]*v2.snap": ignored: unsupported snapshot version 2, starting empty/,
qr/\[error\] .*lua_shared_dict "dir" persist file "[^"]*persist": cannot read it: not a regular file, starting empty/,
]



=== TEST 7: shdict persist: worker 0 saves every persist_interval
--- no_hup
--- http_config
    lua_shared_dict cats 1m persist=$TEST_NGINX_PERSIST_DIR/cats.snap persist_interval=100ms;
--- config
    location = /t {
        content_by_lua_block {
            ngx.shared.cats:set("tom", "cat")
            ngx.sleep(0.35)
            local f = assert(io.open("$TEST_NGINX_PERSIST_DIR/cats.snap", "rb"))
            local data = f:read("*a")
            f:close()
            ngx.say(data:sub(1, 8), " ", data:find("tom", 1, true) ~= nil)
        }
    }
--- request
GET /t
--- response_body
NGXLUASD true
--- error_log eval
qr/lua_shared_dict "cats" persist file "[^"]*cats.snap": saved 1 entries, \d+ bytes in \d+ ms/
--- no_error_log
[error]



=== TEST 8: shdict persist: bad parameters are refused at nginx -t
--- http_config
    lua_shared_dict dogs 1m persist=;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
invalid parameter "persist="



=== TEST 9: shdict persist: an unknown parameter
--- http_config
    lua_shared_dict dogs 1m persist=/tmp/x.snap keep=1;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
invalid parameter "keep=1"



=== TEST 10: shdict persist: a bad interval
--- http_config
    lua_shared_dict dogs 1m persist=/tmp/x.snap persist_interval=often;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
invalid persist_interval "persist_interval=often"



=== TEST 11: shdict persist: an interval without a file
--- http_config
    lua_shared_dict dogs 1m persist_interval=10s;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
"persist_interval" requires "persist"



=== TEST 12: shdict persist: two zones cannot share a file
--- http_config
    lua_shared_dict dogs 1m persist=/tmp/x.snap;
    lua_shared_dict cats 1m persist=/tmp/x.snap;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
persist file "/tmp/x.snap" is already used by lua_shared_dict "dogs"



=== TEST 13: shdict persist: too many words
--- http_config
    lua_shared_dict dogs 1m persist=/tmp/x.snap persist_interval=1s persist=/tmp/y;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
invalid number of arguments in "lua_shared_dict" directive
