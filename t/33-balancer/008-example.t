# The consistent-hash ring of the example configuration
# (nginx-conf/lua/hash_ring.lua, used by nginx-conf/balancer.conf).
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

$ENV{TEST_NGINX_EXAMPLE_LUA} = abs_path(dirname(__FILE__) . "/../../nginx-conf/lua");

repeat_each(1);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: hash_ring: keys spread over the backends and stay put; a backend marked down only moves its own keys
--- http_config
    lua_package_path "$TEST_NGINX_EXAMPLE_LUA/?.lua;;";
    lua_shared_dict backend_health 1m;
--- config
    location = /t {
        content_by_lua_block {
            local ring = require "hash_ring"
            local before, count = {}, {}
            for i = 1, 300 do
                local b = ring.find("user" .. i)
                before[i] = b
                count[b.name] = (count[b.name] or 0) + 1
                assert(ring.find("user" .. i) == b)
            end
            for _, b in ipairs(ring.backends) do
                ngx.say(b.name, " has keys: ", count[b.name] > 50)
            end
            ring.set_up("backend-2", false)
            local moved_others, left_down = 0, 0
            for i = 1, 300 do
                local b = ring.find("user" .. i)
                if b.name == "backend-2" then left_down = left_down + 1 end
                if before[i].name ~= "backend-2" and b ~= before[i] then
                    moved_others = moved_others + 1
                end
            end
            ngx.say("keys left on the down backend: ", left_down)
            ngx.say("keys of the others that moved: ", moved_others)
            local skip = { [ring.backends[1]] = true, [ring.backends[3]] = true }
            ngx.say("all skipped or down: ", tostring(ring.find("user1", skip)))
            ring.set_up("backend-2", true)
            ngx.say("back up: ", ring.find("user1") == before[1])
        }
    }
--- request
GET /t
--- response_body
backend-1 has keys: true
backend-2 has keys: true
backend-3 has keys: true
keys left on the down backend: 0
keys of the others that moved: 0
all skipped or down: nil
back up: true
--- no_error_log
[error]
