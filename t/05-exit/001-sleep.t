# ngx.sleep and coroutines inside handlers.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: sleep waits at least the given time without blocking
--- config
    location = /t {
        content_by_lua_block {
            ngx.update_time()
            local t0 = ngx.now()
            ngx.sleep(0.1)
            ngx.update_time()
            local dt = ngx.now() - t0
            ngx.say(dt >= 0.09 and dt < 1)
        }
    }
--- request
GET /t
--- response_body
true



=== TEST 2: sleep(0) yields once and comes back
--- config
    location = /t {
        content_by_lua_block {
            for i = 1, 3 do ngx.sleep(0) end
            ngx.say("done")
        }
    }
--- request
GET /t
--- response_body
done



=== TEST 3: bad sleep arguments
--- config
    location = /t {
        content_by_lua_block {
            local ok, e1 = pcall(ngx.sleep, -1)
            local ok2, e2 = pcall(ngx.sleep)
            local ok3, e3 = pcall(ngx.sleep, "x")
            ngx.say(e1) ngx.say(e2) ngx.say(e3)
        }
    }
--- request
GET /t
--- response_body
invalid sleep duration "-1000"
attempt to pass 0 arguments, but accepted 1
bad argument #1 to 'sleep' (number expected, got string)



=== TEST 4: sleep inside a user coroutine suspends the request, not the coroutine
--- config
    location = /t {
        content_by_lua_block {
            local co = coroutine.create(function(a)
                ngx.sleep(0.01)
                local b = coroutine.yield(a + 1)
                ngx.sleep(0.01)
                return b * 2
            end)
            local ok, v = coroutine.resume(co, 1)
            ngx.say(ok, " ", v)
            local ok2, v2 = coroutine.resume(co, 10)
            ngx.say(ok2, " ", v2, " ", coroutine.status(co))
        }
    }
--- request
GET /t
--- response_body
true 2
true 20 dead
--- no_error_log
[error]



=== TEST 5: sleep inside coroutine.wrap, nested two levels deep
--- config
    location = /t {
        content_by_lua_block {
            local inner = coroutine.wrap(function()
                ngx.sleep(0.001)
                coroutine.yield("inner")
            end)
            local outer = coroutine.wrap(function()
                local v = inner()
                ngx.sleep(0.001)
                coroutine.yield(v .. "+outer")
            end)
            ngx.say(outer())
        }
    }
--- request
GET /t
--- response_body
inner+outer



=== TEST 6: errors in a wrapped coroutine propagate
--- config
    location = /t {
        content_by_lua_block {
            local f = coroutine.wrap(function() ngx.sleep(0) error("in co", 0) end)
            local ok, err = pcall(f)
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
false in co



=== TEST 7: plain coroutine.yield in the entry thread resumes on the next loop
--- config
    location = /t {
        content_by_lua_block {
            coroutine.yield()
            ngx.say("resumed")
        }
    }
--- request
GET /t
--- response_body
resumed



=== TEST 8: the client may close while the handler sleeps
--- config
    location = /t {
        content_by_lua_block { ngx.sleep(0.5) ngx.say("late") }
    }
--- request
GET /t
--- timeout: 100ms
--- abort
--- ignore_response
--- no_error_log
[alert]
[crit]



=== TEST 9: ngx.exit inside a user coroutine ends the request
--- config
    location = /t {
        content_by_lua_block {
            local co = coroutine.create(function() ngx.say("in co") ngx.exit(200) end)
            coroutine.resume(co)
            ngx.say("not reached")
        }
    }
--- request
GET /t
--- response_body
in co



=== TEST 10: coroutine.running tells the entry thread, user coroutines and light threads apart
--- config
    location = /t {
        content_by_lua_block {
            local main, ismain = coroutine.running()
            local co = coroutine.create(function()
                local me = coroutine.running()
                ngx.sleep(0.001)
                coroutine.yield(me == coroutine.running())
            end)
            local ok, same = coroutine.resume(co)
            local th = ngx.thread.spawn(function() return coroutine.running() end)
            local _, th_co = ngx.thread.wait(th)
            ngx.say(type(main), " ", ismain, " ", ok, " ", same, " ", th_co ~= main, " ",
                    coroutine.running() == main)
        }
    }
--- request
GET /t
--- response_body
thread false true true true true
--- no_error_log
[error]



=== TEST 11: sleep: NaN, infinite and huge durations are refused as upstream refuses them
--- config
    location = /t {
        content_by_lua_block {
            local cases = { nan = 0/0, inf = math.huge, ["-inf"] = -math.huge, ["1e300"] = 1e300,
                            ["2^60"] = 2^60, ["-0.0004"] = -0.0004 }
            for _, k in ipairs({ "nan", "inf", "-inf", "1e300", "2^60", "-0.0004" }) do
                ngx.say(k, ": ", select(2, pcall(ngx.sleep, cases[k])))
            end
        }
    }
--- request
GET /t
--- response_body
nan: invalid sleep duration "0"
inf: invalid sleep duration "0"
-inf: invalid sleep duration "0"
1e300: invalid sleep duration "0"
2^60: invalid sleep duration "0"
-0.0004: 
--- no_error_log
[error]



=== TEST 12: coroutine.resume: a coroutine that returns nothing gives true alone; one that resumed another cannot be resumed ("normal")
--- config
    location = /t {
        content_by_lua_block {
            local co
            local function inner()
                ngx.say("inner: ", select("#", coroutine.resume(co)), " ", select(2, coroutine.resume(co)))
            end
            co = coroutine.create(function()
                local c2 = coroutine.create(inner)
                coroutine.resume(c2)
            end)
            local r = { coroutine.resume(co) }
            ngx.say("outer: ", #r, " ", tostring(r[1]))
            local empty = coroutine.create(function() ngx.sleep(0.001) end)
            ngx.say("after a wait: ", select("#", coroutine.resume(empty)))
        }
    }
--- request
GET /t
--- response_body
inner: 2 cannot resume normal coroutine
outer: 1 true
after a wait: 1
--- no_error_log
[error]



=== TEST 13: sleep: upstream's debug lines for a sleep that ends and one cut short by the request's end
--- config
    location = /t {
        content_by_lua_block {
            ngx.thread.spawn(function() ngx.sleep(10) end)
            ngx.sleep(0.01)
            ngx.say("ok")
            ngx.exit(200)
        }
    }
--- request
GET /t?a=1
--- response_body
ok
--- error_log
lua ready to sleep for 10000 ms
lua ready to sleep for 10 ms
lua sleep timer expired: "/t?a=1"
lua clean up the timer for pending ngx.sleep
--- no_error_log
[error]
