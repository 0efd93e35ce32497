# ngx.semaphore.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: semaphore: post wakes a waiting light thread
--- config
    location = /t {
        content_by_lua_block {
            local semaphore = require "ngx.semaphore"
            local sem = semaphore.new()
            local t = ngx.thread.spawn(function()
                local ok, err = sem:wait(1)
                ngx.say("waiter: ", ok, " ", err)
            end)
            ngx.say("count: ", sem:count())
            sem:post()
            ngx.thread.wait(t)
            ngx.say("count after: ", sem:count())
        }
    }
--- request
GET /t
--- response_body
count: -1
waiter: true nil
count after: 0
--- no_error_log
[error]



=== TEST 2: semaphore: a wait that times out gives false, "timeout"; wait(0) with nothing free gives nil, "timeout" at once
--- config
    location = /t {
        content_by_lua_block {
            local sem = require("ngx.semaphore").new(0)
            ngx.update_time()
            local t0 = ngx.now()
            local ok, err = sem:wait(0.05)
            ngx.update_time()
            ngx.say(ok, " ", err, " ", ngx.now() - t0 >= 0.04)
            ngx.say(sem:wait(0))
        }
    }
--- request
GET /t
--- response_body
false timeout true
niltimeout



=== TEST 3: semaphore: resources are taken without waiting
--- config
    location = /t {
        content_by_lua_block {
            local sem = require("ngx.semaphore").new(2)
            ngx.say(sem:wait(0), " ", sem:wait(0), " ", select(2, sem:wait(0)), " ", sem:count())
            sem:post(3)
            ngx.say(sem:count())
        }
    }
--- request
GET /t
--- response_body
true true timeout 0
3



=== TEST 4: semaphore: waiters wake in arrival order
--- config
    location = /t {
        content_by_lua_block {
            local sem = require("ngx.semaphore").new()
            local order = {}
            local threads = {}
            for i = 1, 4 do
                threads[i] = ngx.thread.spawn(function()
                    local ok = sem:wait(1)
                    order[#order + 1] = i
                end)
            end
            sem:post(4)
            for i = 1, 4 do ngx.thread.wait(threads[i]) end
            ngx.say(table.concat(order, " "))
        }
    }
--- request
GET /t
--- response_body
1 2 3 4



=== TEST 5: semaphore: shared across requests and timers in one worker
--- http_config
    init_worker_by_lua_block {
        shared_sem = require("ngx.semaphore").new()
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0.05, function() shared_sem:post() end)
            local ok, err = shared_sem:wait(1)
            ngx.say("request got it from a timer: ", ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
request got it from a timer: true nil



=== TEST 6: semaphore: bad arguments
--- config
    location = /t {
        content_by_lua_block {
            local semaphore = require "ngx.semaphore"
            ngx.say(select(2, pcall(semaphore.new, -1)))
            local sem = semaphore.new()
            ngx.say(select(2, pcall(sem.wait, sem, -1)))
            ngx.say(select(2, pcall(sem.post, sem, 0)))
            ngx.say(select(2, pcall(semaphore.wait, {}, 1)))
        }
    }
--- request
GET /t
--- response_body_like chomp
no negative number
.*no negative number
.*positive number required
.*not a semaphore instance



=== TEST 7: semaphore: wait is disabled where threads cannot yield
--- config
    location = /t {
        return 200 "x\n";
        log_by_lua_block {
            local sem = require("ngx.semaphore").new()
            local ok, err = sem:wait(1)
            ngx.log(ngx.WARN, "wait in log: ", ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
x
--- error_log
wait in log: nil API disabled in the context of log_by_lua*



=== TEST 8: semaphore: a killed waiter leaves the queue
--- config
    location = /t {
        content_by_lua_block {
            local sem = require("ngx.semaphore").new()
            local t = ngx.thread.spawn(function() sem:wait(1) ngx.say("killed thread ran") end)
            local t2 = ngx.thread.spawn(function() ngx.say("second: ", sem:wait(1)) end)
            ngx.say(sem:count())
            ngx.thread.kill(t)
            ngx.say(sem:count())
            sem:post()
            ngx.thread.wait(t2)
        }
    }
--- request
GET /t
--- response_body
-2
-1
second: true



=== TEST 9: semaphore: a NaN count is refused with upstream's errors; counts beyond a C int are clamped instead of wrapping negative
--- config
    location = /t {
        content_by_lua_block {
            local semaphore = require "ngx.semaphore"
            ngx.say("new nan: ", select(2, pcall(semaphore.new, 0/0)))
            local s = semaphore.new(0)
            ngx.say("post nan: ", select(2, pcall(s.post, s, 0/0)), ", count ", s:count())
            ngx.say("post inf: ", s:post(math.huge), ", count ", s:count())
            ngx.say("new 2^40: ", semaphore.new(2^40):count())
            ngx.say("wait: ", s:wait(0))
        }
    }
--- request
GET /t
--- response_body
new nan: no negative number
post nan: positive number required, count 0
post inf: true, count 2147483647
new 2^40: 2147483647
wait: true
--- no_error_log
[error]



=== TEST 10: semaphore: a thread killed after a post woke it, before it ran, gives the resource back (to the next waiter if any)
--- config
    location = /t {
        content_by_lua_block {
            local sem = require("ngx.semaphore").new(0)
            local t = ngx.thread.spawn(function() sem:wait(1) end)
            sem:post()
            ngx.say("kill: ", ngx.thread.kill(t))
            ngx.sleep(0.01)
            ngx.say("count: ", sem:count())
            ngx.say("take it: ", sem:wait(0))

            local t1 = ngx.thread.spawn(function() sem:wait(1) end)
            local t2 = ngx.thread.spawn(function()
                local ok, err = sem:wait(1)
                ngx.say("second waiter: ", ok, " ", err)
            end)
            ngx.say("count: ", sem:count())
            sem:post()
            ngx.thread.kill(t1)
            ngx.thread.wait(t2)
            ngx.say("count: ", sem:count())
        }
    }
--- request
GET /t
--- response_body
kill: 1
count: 1
take it: true
count: -2
second waiter: true nil
count: 0
--- no_error_log
[error]



=== TEST 11: semaphore: resources a post hands to waiting threads are theirs before they resume: wait(0) right after the post times out, a queued wait gets what is left
--- config
    location = /t {
        content_by_lua_block {
            local semaphore = require "ngx.semaphore"
            local sem = semaphore.new(0)
            local function waiter(name)
                local ok, err = sem:wait(1)
                ngx.say(name, ": ", ok, " ", err)
            end
            local t1 = ngx.thread.spawn(waiter, "first")
            sem:post(3)
            ngx.say("wait(0) after post: ", sem:wait(0))
            local t2 = ngx.thread.spawn(waiter, "second")
            ngx.thread.wait(t1)
            ngx.thread.wait(t2)
            ngx.say("left: ", sem:count(), " ", sem:wait(0))
        }
    }
--- request
GET /t
--- response_body
wait(0) after post: niltimeout
first: true nil
second: true nil
left: 1 true
--- no_error_log
[error]



=== TEST 12: semaphore: upstream's debug lines for new, wait, post, a waiting thread that goes and the collector
--- config
    location = /t {
        content_by_lua_block {
            local semaphore = require "ngx.semaphore"
            local waited = semaphore.new(0)
            local th = ngx.thread.spawn(function() return waited:wait(1) end)
            ngx.thread.kill(th)
            waited:post(1)
            ngx.say(waited:count())
            local sem = semaphore.new(1)
            sem = nil
            collectgarbage("collect")
        }
    }
--- log_level: debug
--- request
GET /t
--- response_body
1
--- error_log eval
[
qr/http lua semaphore new: [0-9A-F]+, resources: 0/,
qr/http lua semaphore wait: [0-9A-F]+, timeout: 1000, resources: 0, event posted: 0/,
"http lua semaphore wait yielding",
"http lua semaphore cleanup",
qr/http lua semaphore post: [0-9A-F]+, n: 1, resources: 0/,
qr/in lua gc, semaphore [0-9A-F]+/,
]
--- no_error_log
[error]
