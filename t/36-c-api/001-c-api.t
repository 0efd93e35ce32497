# The public C API of upstream's ngx_http_lua_api.h, called by a third-party
# C module (capi_test_module.c, built here against the nginx under test) and,
# for the shared dict reader, through LuaJIT's FFI.
use lib 't/lib';
use CApiTestModule;
use Test::Nginx::Socket::Lua;

BEGIN { CApiTestModule::build() }

repeat_each(2);
plan tests => repeat_each() * (blocks() * 3 + 1);
run_tests();

__DATA__

=== TEST 1: ngx_http_lua_shared_memory_add: the module's zone is initialised by its own init before init_by_lua, and shared
--- http_config
    capi_test_zone capi 64k;
    init_by_lua_block {
        local capi = require "capi_test"
        init_saw = capi.incr("capi")
    }
--- config
    location = /t {
        content_by_lua_block {
            local capi = require "capi_test"
            ngx.say("init_by_lua saw: ", init_saw)
            local fresh, reused = capi.inits("capi")
            ngx.say("inits: ", fresh, " fresh, ", reused, " reused")
            local n = capi.incr("capi")
            ngx.say("counter above 1: ", n > 1)
            ngx.say("unknown zone: ", capi.incr("nope"))
        }
    }
--- request
GET /t
--- response_body
init_by_lua saw: 1
inits: 1 fresh, 0 reused
counter above 1: true
unknown zone: nil
--- no_error_log
[error]



=== TEST 2: ngx_http_lua_add_package_preload: a loader registered before the VM exists, and one after
--- http_config
    capi_test_zone capi 64k;
--- config
    location = /t {
        content_by_lua_block {
            local early = require "capi_test_early"
            local late = require "capi_test"
            ngx.say(type(early.incr), " ", type(late.uri), " ", early ~= late)
            ngx.say(type(package.preload.capi_test), " ", type(package.preload.capi_test_early))
        }
    }
--- request
GET /t
--- response_body
function function true
function function
--- no_error_log
[error]



=== TEST 3: ngx_http_lua_get_global_state: the VM the handlers run in
--- http_config
    capi_test_zone capi 64k;
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(capi_test_global_state)
        }
    }
--- request
GET /t
--- response_body
seen by a C module at postconfiguration
--- no_error_log
[error]



=== TEST 4: ngx_http_lua_get_request: the running request, in content, in a light thread, and none in init_by_lua
--- http_config
    capi_test_zone capi 64k;
    init_by_lua_block { init_uri = require("capi_test").uri() }
--- config
    location = /some/where {
        content_by_lua_block {
            local capi = require "capi_test"
            ngx.say("content: ", capi.uri())
            local t = ngx.thread.spawn(function()
                ngx.sleep(0.001)
                return capi.uri()
            end)
            ngx.say("thread: ", select(2, ngx.thread.wait(t)))
            ngx.say("init_by_lua: ", init_uri)
        }
    }
--- request
GET /some/where?a=1
--- response_body
content: /some/where
thread: /some/where
init_by_lua: nil
--- no_error_log
[error]



=== TEST 5: ngx_http_lua_get_lua_http10_buffering: the location's setting
--- http_config
    capi_test_zone capi 64k;
--- config
    location = /on {
        content_by_lua_block { ngx.say(require("capi_test").http10()) }
    }
    location = /t {
        lua_http10_buffering off;
        content_by_lua_block {
            local res = ngx.location.capture("/on")
            ngx.print(res.body)
            ngx.say(require("capi_test").http10())
        }
    }
--- request
GET /t
--- response_body
true
false
--- no_error_log
[error]



=== TEST 6: ngx_http_lua_shared_dict_get from C: every value type, a short buffer, missing and expired keys, lists
--- http_config
    capi_test_zone capi 64k;
    lua_shared_dict dogs 1m;
--- config
    location = /t {
        content_by_lua_block {
            local capi = require "capi_test"
            local dogs = ngx.shared.dogs
            dogs:set("s", "hello, world")
            dogs:set("n", 2.5)
            dogs:set("t", true)
            dogs:set("f", false)
            dogs:set("e", "")
            dogs:set("old", "x", 0.001)
            dogs:lpush("l", "a")
            ngx.sleep(0.01)
            ngx.say(capi.dict_get("dogs", "s"))
            ngx.say(capi.dict_get("dogs", "s", 5))
            ngx.say(capi.dict_get("dogs", "n"))
            ngx.say(capi.dict_get("dogs", "t"))
            ngx.say(capi.dict_get("dogs", "f"))
            ngx.say(capi.dict_get("dogs", "e"))
            ngx.say(capi.dict_get("dogs", "missing"))
            ngx.say(capi.dict_get("dogs", "old"))
            ngx.say(capi.dict_get("dogs", "l"))
            ngx.say(capi.dict_get("dogs", "s", 0))
            ngx.say(capi.dict_get("capi", "s"))
        }
    }
--- request
GET /t
--- response_body
04hello, world
04hello
032.5
01true
01false
04
-5
-4
-1
-1
-1
--- error_log
bad lua value type found for key l: 5
no string buffer initialized



=== TEST 7: ngx_http_lua_find_zone and ngx_http_lua_shared_dict_get through FFI, with the header's signatures
--- http_config
    lua_shared_dict dogs 1m;
    lua_shared_dict cats 1m;
--- config
    location = /t {
        content_by_lua_block {
            local ffi = require "ffi"
            ffi.cdef[[
                typedef struct { size_t len; unsigned char *data; } capi_str_t;
                typedef struct {
                    uint8_t type;
                    union { int b; double n; capi_str_t s; } value;
                } capi_value_t;
                void *ngx_http_lua_find_zone(const char *data, size_t len);
                intptr_t ngx_http_lua_shared_dict_get(void *zone,
                    const char *kdata, size_t klen, capi_value_t *val);
            ]]
            local C = ffi.C
            ngx.shared.cats:set("k", 7)
            ngx.shared.dogs:set("k", "woof")
            local dogs = C.ngx_http_lua_find_zone("dogs", 4)
            local cats = C.ngx_http_lua_find_zone("cats", 4)
            ngx.say("none: ", C.ngx_http_lua_find_zone("cows", 4) == nil,
                    ", prefix: ", C.ngx_http_lua_find_zone("do", 2) == nil,
                    ", distinct: ", dogs ~= cats and dogs ~= nil and cats ~= nil)
            local v = ffi.new("capi_value_t")
            local rc = C.ngx_http_lua_shared_dict_get(cats, "k", 1, v)
            ngx.say(tonumber(rc), " ", v.type, " ", v.value.n)
            local buf = ffi.new("unsigned char[8]")
            v.value.s.data, v.value.s.len = buf, 8
            rc = C.ngx_http_lua_shared_dict_get(dogs, "k", 1, v)
            ngx.say(tonumber(rc), " ", v.type, " ", ffi.string(v.value.s.data, v.value.s.len))
            ngx.say(tonumber(C.ngx_http_lua_shared_dict_get(nil, "k", 1, v)))
        }
    }
--- request
GET /t
--- response_body
none: true, prefix: true, distinct: true
0 3 7
0 4 woof
-1
--- no_error_log
[error]



=== TEST 8: co_ctx functions: a module's Lua function yields its thread and its event resumes it with values
# ngx_http_lua_get_cur_co_ctx, ngx_http_lua_set_co_ctx_cleanup, then from the
# module's timer ngx_http_lua_get_co_ctx_data, ngx_http_lua_set_cur_co_ctx,
# ngx_http_lua_get_co_ctx_vm and ngx_http_lua_co_ctx_resume_helper
--- http_config
    capi_test_zone capi 64k;
--- config
    location = /t {
        content_by_lua_block {
            local capi = require "capi_test"
            local t0 = ngx.now()
            ngx.say(capi.sleep(20, 41))
            local th = ngx.thread.spawn(function() return capi.sleep(10, 1) end)
            ngx.say("meanwhile")
            ngx.say(ngx.thread.wait(th))
            ngx.update_time()
            ngx.say("waited: ", ngx.now() - t0 >= 0.025)
            ngx.say(pcall(capi.sleep, 1, 1) and "no pcall barrier" or "pcall")
        }
    }
--- request
GET /t
--- response_body
42woke
meanwhile
true2woke
waited: true
no pcall barrier
--- no_error_log
[error]



=== TEST 9: co_ctx functions: a killed thread and an ended request run the module's cleanup, never resuming; ngx_http_lua_cleanup_co_ctx_pending_operation runs it at once
--- http_config
    capi_test_zone capi 64k;
--- config
    location = /sleeper {
        content_by_lua_block {
            ngx.thread.spawn(function() require("capi_test").sleep(50, 0) end)
            ngx.exit(200)
        }
    }
    location = /t {
        content_by_lua_block {
            local capi = require "capi_test"
            local before = capi.cleanups()
            local th = ngx.thread.spawn(function() return capi.sleep(50, 0) end)
            ngx.say("killed: ", ngx.thread.kill(th))
            ngx.say("cleanups: ", capi.cleanups() - before)
            ngx.location.capture("/sleeper")
            ngx.say("after an ended request: ", capi.cleanups() - before)
            ngx.sleep(0.08)
            ngx.say("still: ", capi.cleanups() - before)
            ngx.say(capi.abandon(10), " ", capi.cleanups() - before)
            -- the thread is not left waiting: a plain yield still comes back
            coroutine.yield()
            ngx.sleep(0.03)
            ngx.say("done: ", capi.cleanups() - before)
        }
    }
--- request
GET /t
--- response_body
killed: 1
cleanups: 1
after an ended request: 2
still: 2
abandoned 3
done: 3
--- no_error_log
[error]
