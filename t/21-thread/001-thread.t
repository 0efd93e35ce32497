# ngx.thread.spawn / wait / kill: light threads.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: thread: spawn runs the thread at once, until it yields
--- config
    location = /t {
        content_by_lua_block {
            local t = ngx.thread.spawn(function(a, b)
                ngx.say("in thread ", a + b)
                ngx.sleep(0.01)
                ngx.say("thread done")
            end, 1, 2)
            ngx.say("after spawn ", type(t))
        }
    }
--- request
GET /t
--- response_body
in thread 3
after spawn thread
thread done
--- no_error_log
[error]



=== TEST 2: thread: wait returns the thread's results
--- config
    location = /t {
        content_by_lua_block {
            local t = ngx.thread.spawn(function() ngx.sleep(0.01) return "x", 42 end)
            local ok, a, b = ngx.thread.wait(t)
            ngx.say(ok, " ", a, " ", b)
            local ok2, err = ngx.thread.wait(t)
            ngx.say(ok2, " ", err)
        }
    }
--- request
GET /t
--- response_body
true x 42
nil already waited or killed



=== TEST 3: thread: wait on a thread that already finished (zombie)
--- config
    location = /t {
        content_by_lua_block {
            local t = ngx.thread.spawn(function() return "early" end)
            ngx.say(coroutine.status(t))
            ngx.say(ngx.thread.wait(t))
        }
    }
--- request
GET /t
--- response_body
zombie
trueearly



=== TEST 4: thread: wait for any of several, the fastest first
--- config
    location = /t {
        content_by_lua_block {
            local slow = ngx.thread.spawn(function() ngx.sleep(0.2) return "slow" end)
            local fast = ngx.thread.spawn(function() ngx.sleep(0.01) return "fast" end)
            local ok, res = ngx.thread.wait(slow, fast)
            ngx.say(res)
            ok, res = ngx.thread.wait(slow)
            ngx.say(res)
        }
    }
--- request
GET /t
--- response_body
fast
slow



=== TEST 5: thread: an error is logged with its traceback and error()'s message returned to wait as given, siblings go on
--- config
    location = /t {
        content_by_lua_block {
            local bad = ngx.thread.spawn(function() ngx.sleep(0.001) error("thread boom") end)
            local good = ngx.thread.spawn(function() ngx.sleep(0.01) return "fine" end)
            local ok, err = ngx.thread.wait(bad)
            ngx.say(ok, " ", err)
            ngx.say(select(2, ngx.thread.wait(good)))
        }
    }
--- request
GET /t
--- response_body
false thread boom
fine
--- error_log eval
[
qr/lua user thread aborted: runtime error: content_by_lua\(nginx\.conf:\d+\):2: thread boom/,
qr/^stack traceback:/,
]



=== TEST 6: thread: the request ends only when every thread is done
--- config
    location = /t {
        content_by_lua_block {
            ngx.thread.spawn(function()
                ngx.sleep(0.05)
                ngx.say("late thread")
            end)
            ngx.say("entry done")
        }
    }
--- request
GET /t
--- response_body
entry done
late thread



=== TEST 7: thread: ngx.exit in a light thread aborts the others
--- config
    location = /t {
        content_by_lua_block {
            ngx.thread.spawn(function()
                ngx.sleep(0.5)
                ngx.say("never")
            end)
            ngx.thread.spawn(function()
                ngx.sleep(0.01)
                ngx.say("exiting")
                ngx.exit(200)
            end)
            ngx.sleep(1)
            ngx.say("never either")
        }
    }
--- request
GET /t
--- response_body
exiting
--- no_error_log
[error]



=== TEST 8: thread: kill a sleeping thread
--- config
    location = /t {
        content_by_lua_block {
            local t = ngx.thread.spawn(function() ngx.sleep(0.2) ngx.say("not killed?") end)
            ngx.say(ngx.thread.kill(t))
            ngx.say(ngx.thread.kill(t))
            ngx.say(ngx.thread.wait(t))
        }
    }
--- request
GET /t
--- response_body
1
nilalready waited or killed
nilalready waited or killed



=== TEST 9: thread: kill rules
--- config
    location = /t {
        content_by_lua_block {
            local done = ngx.thread.spawn(function() return 1 end)
            ngx.say(ngx.thread.kill(done))
            local t = ngx.thread.spawn(function()
                ngx.sleep(0.01)
            end)
            local t2 = ngx.thread.spawn(function()
                ngx.say(ngx.thread.kill(t))
            end)
            ngx.say(ngx.thread.kill(coroutine.running()))
        }
    }
--- request
GET /t
--- response_body
nilalready terminated
nilkiller not parent
nilnot user thread



=== TEST 10: thread: 100 threads each sleeping and writing
--- config
    location = /t {
        content_by_lua_block {
            local threads = {}
            for i = 1, 100 do
                threads[i] = ngx.thread.spawn(function()
                    ngx.sleep(0.001 * (i % 7))
                    return i
                end)
            end
            local sum = 0
            for i = 1, 100 do
                local ok, v = ngx.thread.wait(threads[i])
                sum = sum + v
            end
            ngx.say("sum ", sum)
        }
    }
--- request
GET /t
--- response_body
sum 5050
--- no_error_log
[error]



=== TEST 11: thread: wait argument errors
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.thread.wait)))
            ngx.say(select(2, pcall(ngx.thread.wait, coroutine.create(function() end))))
            local t = ngx.thread.spawn(function()
                ngx.sleep(0.01)
            end)
            local ok, err
            ngx.thread.spawn(function()
                ok, err = pcall(ngx.thread.wait, t)
            end)
            ngx.say(err)
            ngx.thread.wait(t)
        }
    }
--- request
GET /t
--- response_body
at least one coroutine should be specified
attempt to wait on a coroutine that is not a user thread
only the parent coroutine can wait on the thread



=== TEST 12: thread: disabled outside yieldable phases
--- config
    location = /t {
        return 200 "x\n";
        log_by_lua_block {
            local ok, err = pcall(ngx.thread.spawn, function() end)
            ngx.log(ngx.WARN, "spawn in log: ", err)
        }
    }
--- request
GET /t
--- response_body
x
--- error_log
spawn in log: API disabled in the context of log_by_lua*



=== TEST 13: thread: light threads in rewrite and access phases
--- config
    location = /t {
        rewrite_by_lua_block {
            local t = ngx.thread.spawn(function() ngx.sleep(0.01) return "rw" end)
            ngx.ctx.r = select(2, ngx.thread.wait(t))
        }
        access_by_lua_block {
            ngx.thread.spawn(function() ngx.sleep(0.01) ngx.ctx.a = "acc" end)
        }
        content_by_lua_block { ngx.say(ngx.ctx.r, " ", ngx.ctx.a) }
    }
--- request
GET /t
--- response_body
rw acc



=== TEST 14: thread: pending threads are killed when the client goes away
--- config
    location = /t {
        content_by_lua_block {
            ngx.thread.spawn(function() ngx.sleep(0.5) ngx.log(ngx.ERR, "should not run") end)
            ngx.exit(ngx.ERROR)
        }
    }
--- request
GET /t
--- ignore_response
--- wait: 0.7
--- no_error_log
should not run



=== TEST 15: thread: spawn passes more arguments than a C function's stack reserve
--- config
    location = /t {
        content_by_lua_block {
            local args = {}
            for i = 1, 300 do args[i] = i end
            local t = ngx.thread.spawn(function(...)
                local sum = 0
                for i = 1, select("#", ...) do sum = sum + select(i, ...) end
                return select("#", ...), sum
            end, unpack(args))
            local ok, n, sum = ngx.thread.wait(t)
            ngx.say(ok, " ", n, " ", sum)
        }
    }
--- request
GET /t
--- response_body
true 300 45150
--- no_error_log
[error]



=== TEST 16: thread: wait errors carry the position of the user's call, as upstream's
--- config
    location = /t {
        content_by_lua_block {
            local function try(...)
                local ok, err = pcall(function(...)
                    ngx.thread.wait(...)
                end, ...)
                ngx.say(err)
            end
            try()
            try("x")
            try(coroutine.create(function() end))
        }
    }
--- request
GET /t
--- response_body_like chomp
^content_by_lua\(nginx\.conf:\d+\):4: at least one coroutine should be specified
content_by_lua\(nginx\.conf:\d+\):4: bad argument #1 to 'wait' \(lua thread expected\)
content_by_lua\(nginx\.conf:\d+\):4: attempt to wait on a coroutine that is not a user thread$
--- no_error_log
[error]



=== TEST 17: thread: a thread that failed in error(msg) gives wait msg as given, as upstream
--- config
    location = /t {
        content_by_lua_block {
            local quick = ngx.thread.spawn(function() error("bad bad!") end)
            local slow = ngx.thread.spawn(function()
                ngx.sleep(0.01)
                error("worse", 2)
            end)
            local tbl = ngx.thread.spawn(function() error({ code = 7 }) end)
            local rt = ngx.thread.spawn(function() local x = nil; return x.y end)
            local function show(ok, e) return tostring(ok) .. " " .. tostring(e) end
            ngx.say(show(ngx.thread.wait(quick)))
            ngx.say(show(ngx.thread.wait(slow)))
            local ok, e = ngx.thread.wait(tbl)
            ngx.say(ok, " ", e.code)
            ok, e = ngx.thread.wait(rt)
            ngx.say(ok, " ", e)
        }
    }
--- request
GET /t
--- response_body_like chomp
^false bad bad!
false worse
false 7
false content_by_lua\(nginx\.conf:\d+\):\d+: attempt to index local 'x' \(a nil value\)$
--- error_log
lua user thread aborted: runtime error:



=== TEST 18: thread: coroutine.status of a thread waiting on an event or in ngx.thread.wait is "running", after a plain yield "suspended"
--- config
    location = /t {
        content_by_lua_block {
            local sleeper = ngx.thread.spawn(function() ngx.sleep(0.02) end)
            local waiter = ngx.thread.spawn(function() ngx.thread.wait(ngx.thread.spawn(function() ngx.sleep(0.01) end)) end)
            local yielder = ngx.thread.spawn(function() coroutine.yield() ngx.sleep(0.01) end)
            ngx.say(coroutine.status(sleeper), " ", coroutine.status(waiter), " ", coroutine.status(yielder))
            ngx.thread.wait(sleeper)
            ngx.thread.wait(waiter)
            ngx.thread.wait(yielder)
            ngx.say(coroutine.status(sleeper))
        }
    }
--- request
GET /t
--- response_body
running running suspended
dead
--- no_error_log
[error]



=== TEST 19: thread: an aborted thread's traceback has a "coroutine N:" section for it and each live thread that spawned it, as upstream's
--- config
    location = /t {
        content_by_lua_block {
            local function inner()
                error("deep boom")
            end
            local function middle()
                local t = ngx.thread.spawn(inner)
                ngx.thread.wait(t)
            end
            local t = ngx.thread.spawn(middle)
            ngx.thread.wait(t)
            ngx.say("done")
        }
    }
--- request
GET /t
--- response_body
done
--- error_log eval
[
qr/lua user thread aborted: runtime error: content_by_lua\(nginx\.conf:\d+\):3: deep boom$/,
qr/^coroutine 0:$/,
qr/^coroutine 1:$/,
qr/^coroutine 2:$/,
qr/^\tcontent_by_lua\(nginx\.conf:\d+\):9: in main chunk, client:/,
]
--- no_error_log
coroutine 3:



=== TEST 20: coroutine.wrap: an error passed up through wrapped coroutines is traced from the coroutine that raised it, as upstream's
--- config
    location = /t {
        content_by_lua_block {
            local inner = coroutine.wrap(function()
                error("wrapped boom")
            end)
            local outer = coroutine.wrap(function()
                inner()
            end)
            outer()
            ngx.say("not reached")
        }
    }
--- request
GET /t
--- error_code: 500
--- error_log eval
[
qr/lua entry thread aborted: runtime error: content_by_lua\(nginx\.conf:\d+\):3: wrapped boom$/,
qr/^coroutine 0:$/,
qr/^\tcontent_by_lua\(nginx\.conf:\d+\):3: in function <content_by_lua\(nginx\.conf:\d+\):2>$/,
qr/^coroutine 1:$/,
qr/^coroutine 2:$/,
qr/^\tcontent_by_lua\(nginx\.conf:\d+\):8: in main chunk, client:/,
]
--- no_error_log
coroutine 3:



=== TEST 21: coroutine.wrap: an error caught with pcall leaves no coroutine sections in a later failure's traceback
--- config
    location = /t {
        content_by_lua_block {
            local co = coroutine.wrap(function()
                error("caught", 0)
            end)
            local ok, err = pcall(co)
            ngx.say(ok, " ", err)
            ngx.flush(true)
            error("caught", 0)
        }
    }
--- request
GET /t
--- response_body
false caught
--- error_log eval
[
qr/lua entry thread aborted: runtime error: caught$/,
qr/^coroutine 0:$/,
]
--- no_error_log
coroutine 1:



=== TEST 22: thread.wait: a thread spawned inside a user coroutine belongs to that coroutine, as upstream: the entry thread may not wait on it, the coroutine may
--- config
    location = /t {
        content_by_lua_block {
            local t
            local co = coroutine.create(function()
                t = ngx.thread.spawn(function()
                    ngx.sleep(0.01)
                    return "slept"
                end)
                coroutine.yield()
                return ngx.thread.wait(t)
            end)
            coroutine.resume(co)
            local ok, err = pcall(ngx.thread.wait, t)
            ngx.say(ok, " ", err)
            ngx.say(coroutine.resume(co))
        }
    }
--- request
GET /t
--- response_body
false only the parent coroutine can wait on the thread
truetrueslept
--- no_error_log
[error]



=== TEST 23: coroutine.status: a user coroutine waiting on I/O is "running" and its resumer "normal", as upstream, and resuming it then fails
--- config
    location = /t {
        content_by_lua_block {
            local main = coroutine.running()
            local inner
            local outer = coroutine.create(function()
                inner = coroutine.create(function()
                    ngx.sleep(0.05)
                    return "inner done"
                end)
                return coroutine.resume(inner)
            end)
            ngx.thread.spawn(function()
                ngx.sleep(0.01)
                ngx.say("while waiting: inner ", coroutine.status(inner),
                        ", outer ", coroutine.status(outer),
                        ", main ", coroutine.status(main))
                ngx.say("resume inner: ", coroutine.resume(inner))
                ngx.say("resume outer: ", coroutine.resume(outer))
            end)
            ngx.say("outer: ", coroutine.resume(outer))
            ngx.say("after: inner ", coroutine.status(inner),
                    ", outer ", coroutine.status(outer),
                    ", main ", coroutine.status(main))
        }
    }
--- request
GET /t
--- response_body
while waiting: inner running, outer normal, main normal
resume inner: falsecannot resume running coroutine
resume outer: falsecannot resume normal coroutine
outer: truetrueinner done
after: inner dead, outer dead, main running
--- no_error_log
[error]



=== TEST 24: coroutine: the table has upstream's 16 entries (the originals under "_", the request-aware versions also under "__", no isyieldable), in every phase
--- http_config
    init_by_lua_block {
        local n = 0
        for _ in pairs(coroutine) do n = n + 1 end
        init_count = n
    }
--- config
    location = /t {
        content_by_lua_block {
            local names = {}
            for k in pairs(coroutine) do names[#names + 1] = k end
            table.sort(names)
            ngx.say(#names, " ", init_count)
            ngx.say(table.concat(names, " "))
            ngx.say(coroutine.__resume == coroutine.resume, " ", coroutine._resume ~= coroutine.resume)
            -- the original resume runs a coroutine that does not wait
            local co = coroutine._create(function(a) local b = coroutine._yield(a + 1) return b * 2 end)
            ngx.say(select(2, coroutine._resume(co, 1)), " ", select(2, coroutine._resume(co, 5)),
                    " ", coroutine._status(co))
            -- the request-aware one lets it wait on nginx
            local co2 = coroutine.__create(function() ngx.sleep(0.001) return "slept" end)
            ngx.say(select(2, coroutine.__resume(co2)))
        }
    }
--- request
GET /t
--- response_body
16 16
__create __resume __status __wrap __yield _create _resume _status _wrap _yield create resume running status wrap yield
true true
2 10 dead
slept
--- no_error_log
[error]



=== TEST 25: thread.spawn: coroutine.yield in the entry thread and a light thread slices time between them in turn, as upstream's manual time-slicing example prints
--- config
    location = /t {
        content_by_lua_block {
            local yield = coroutine.yield
            local function f()
                local self = coroutine.running()
                ngx.say("f 1")
                yield(self)
                ngx.say("f 2")
                yield(self)
                ngx.say("f 3")
            end
            local self = coroutine.running()
            ngx.say("0")
            yield(self)
            ngx.say("1")
            ngx.thread.spawn(f)
            ngx.say("2")
            yield(self)
            ngx.say("3")
            yield(self)
            ngx.say("4")
        }
    }
--- request
GET /t
--- response_body
0
1
f 1
2
f 2
3
f 3
4
--- no_error_log
[error]



=== TEST 26: coroutine.wrap: calling a finished wrapper returns false and upstream's "cannot resume dead coroutine" instead of raising; an error inside the coroutine is still raised
--- config
    location = /t {
        content_by_lua_block {
            local gen = coroutine.wrap(function(a)
                local b = coroutine.yield(a + 1)
                return b * 2
            end)
            ngx.say(gen(1))
            ngx.say(gen(5))
            ngx.say(gen())
            ngx.say(gen(7))
            -- Across a real wait inside the coroutine too.
            local slow = coroutine.wrap(function() ngx.sleep(0.001) return "slept" end)
            ngx.say(slow())
            ngx.say(slow())
            local bad = coroutine.wrap(function() error("boom", 0) end)
            ngx.say(pcall(bad))
            ngx.say(pcall(bad))
        }
    }
--- request
GET /t
--- response_body
2
10
falsecannot resume dead coroutine
falsecannot resume dead coroutine
slept
falsecannot resume dead coroutine
falseboom
truefalsecannot resume dead coroutine
--- no_error_log
[error]



=== TEST 27: thread.spawn: the spawner waits its turn behind threads posted before it, as upstream's scheduler orders them (nested spawns, with and without a wait)
--- config
    location = /t {
        content_by_lua_block {
            local function leaf(tag, wait)
                if wait then ngx.sleep(0.001) end
                ngx.say(tag, ": leaf")
            end
            local function middle(tag, wait)
                ngx.say(tag, ": middle starts")
                ngx.thread.spawn(leaf, tag, wait)
                ngx.say(tag, ": middle goes on")
            end
            -- The entry thread waits on the first thread, so that thread's
            -- end resumes it at once, ahead of the posted middle thread.
            ngx.thread.wait(ngx.thread.spawn(function()
                ngx.say("A: entry")
                ngx.thread.spawn(middle, "A")
                ngx.say("A: entry goes on")
            end))
            -- The same with the leaf waiting: both spawners run before it.
            ngx.say("B: entry")
            local t = ngx.thread.spawn(middle, "B", true)
            ngx.say("B: entry goes on")
            ngx.thread.wait(t)
            ngx.sleep(0.01)
            ngx.say("done")
        }
    }
--- request
GET /t
--- response_body
A: entry
A: middle starts
A: leaf
A: entry goes on
B: entry
B: middle starts
A: middle goes on
B: entry goes on
B: middle goes on
B: leaf
done
--- no_error_log
[error]



=== TEST 28: thread.spawn and coroutine.yield: threads that yield while others are posted take turns in posting order, the entry thread among them
--- config
    location = /t {
        content_by_lua_block {
            local function worker(name, n)
                for i = 1, n do
                    ngx.say(name, " ", i)
                    coroutine.yield()
                end
                ngx.say(name, " ends")
            end
            ngx.thread.spawn(worker, "x", 2)
            ngx.thread.spawn(worker, "y", 3)
            ngx.say("entry")
            coroutine.yield()
            ngx.say("entry again")
        }
    }
--- request
GET /t
--- response_body
x 1
y 1
x 2
entry
y 2
x ends
entry again
y 3
y ends
--- no_error_log
[error]
