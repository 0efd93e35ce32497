# scripts/resty: the script runs where cosockets, ngx.sleep, timers, light
# threads and shared dicts work.
use Test::Resty;

ensure_redis();
plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: resty script: a Redis conversation over ngx.socket.tcp
--- src
local function cmd(sock, ...)
    local args = { ... }
    local req = { "*", #args, "\r\n" }
    for _, a in ipairs(args) do
        req[#req + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
    end
    assert(sock:send(table.concat(req)))
    local line = assert(sock:receive())
    if line:sub(1, 1) == "$" then
        local n = tonumber(line:sub(2))
        if n < 0 then return nil end
        local data = assert(sock:receive(n + 2))
        return data:sub(1, n)
    end
    return line
end

local sock = ngx.socket.tcp()
sock:settimeout(2000)
assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT))
local key = "resty-test-" .. ngx.worker.pid()
print(cmd(sock, "SET", key, arg[1]))
print(cmd(sock, "GET", key))
print(cmd(sock, "DEL", key))
print(cmd(sock, "GET", key))
print(sock:setkeepalive())
--- args: hello-redis
--- out
+OK
hello-redis
:1
nil
1



=== TEST 2: resty script: a refused connection is a return value, not a log line
--- src
local sock = ngx.socket.tcp()
print(sock:connect("127.0.0.1", 1))
--- out
nilconnection refused



=== TEST 3: resty script: ngx.sleep waits and ngx.now moves
--- src
local t0 = ngx.now()
ngx.sleep(0.05)
ngx.update_time()
local d = ngx.now() - t0
print(d >= 0.04 and d < 1)
--- out
true



=== TEST 4: resty script: timers and light threads of the script run while it waits
--- opts: --shdict 'results 1m'
--- src
local dict = ngx.shared.results
assert(ngx.timer.at(0.01, function()
    dict:set("timer", "fired")
    ngx.say("in the timer")
end))
local th = ngx.thread.spawn(function()
    ngx.sleep(0.005)
    print("in the thread")
    return "thread result"
end)
print(select(2, ngx.thread.wait(th)))
ngx.sleep(0.05)
print("timer: ", dict:get("timer"))
--- out
in the thread
thread result
in the timer
timer: fired



=== TEST 5: resty script: a semaphore between the script and a light thread
--- src
local semaphore = require "ngx.semaphore"
local sema = semaphore.new()
ngx.thread.spawn(function()
    ngx.sleep(0.01)
    print("posting")
    sema:post(1)
end)
print("waiting")
print(sema:wait(1))
--- out
waiting
posting
true



=== TEST 6: resty script: after the script returns, its light threads and running timers finish; pending timers are dropped
--- src
ngx.thread.spawn(function()
    ngx.sleep(0.02)
    print("thread done")
end)
ngx.timer.at(0, function()
    ngx.sleep(0.04)
    print("running timer done")
end)
ngx.timer.at(30, function()
    print("pending timer ran")
end)
ngx.timer.every(30, function()
    print("pending every ran")
end)
print("script done")
--- timeout: 5
--- out
script done
thread done
running timer done



=== TEST 7: resty script: exit_worker_by_lua of --http-conf runs when the script is done
--- opts: --http-conf 'exit_worker_by_lua_block { io.stdout:write("exit_worker ran\n") }'
--- src
print("script")
--- out
script
exit_worker ran
