# ngx.pipe under load and at the edges: many children at once (no
# descriptor or zombie left), a child that ignores SIGTERM, the request
# ending while a read waits, busy streams, nginx's own child handling.
use Test::Nginx::Socket::Lua;

worker_connections(1024);
env_to_nginx('PATH');
no_long_string();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.pipe: 100 concurrent pipes, then no descriptor and no zombie left
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local ffi = require "ffi"
            pcall(ffi.cdef, "int fcntl(int fd, int cmd, ...);")
            -- descriptors open in the worker (F_GETFD succeeds)
            local function fds()
                local n = 0
                for fd = 0, 4095 do
                    if ffi.C.fcntl(fd, 1) ~= -1 then n = n + 1 end
                end
                return n
            end
            -- the worker's children, zombies included
            local function children()
                local pid = ngx.worker.pid()
                local f = assert(io.open("/proc/" .. pid .. "/task/" .. pid .. "/children"))
                local list = f:read("*a")
                f:close()
                return list
            end
            -- one spawn first: the SIGCHLD pipe stays open for the worker's life
            pipe.spawn({"true"}):wait()
            collectgarbage()
            local before = fds()
            local threads = {}
            for i = 1, 100 do
                threads[i] = ngx.thread.spawn(function()
                    local p = assert(pipe.spawn({"sh", "-c", "read x; echo $x-" .. i .. "; echo e" .. i .. " >&2"}))
                    assert(p:write(("w"):rep(i) .. "\n"))
                    local out = assert(p:stdout_read_line())
                    local err = assert(p:stderr_read_all())
                    local ok, reason, status = p:wait()
                    return out == ("w"):rep(i) .. "-" .. i and err == "e" .. i .. "\n" and ok
                           and reason == "exit" and status == 0
                end)
            end
            local good = 0
            for i = 1, 100 do
                local ok, res = ngx.thread.wait(threads[i])
                if ok and res then good = good + 1 end
            end
            threads = nil
            collectgarbage()
            collectgarbage()
            ngx.say("good ", good)
            ngx.say("fds ", fds() - before)
            ngx.say("children left [", children(), "]")
        }
    }
--- request
GET /t
--- response_body
good 100
fds 0
children left []
--- timeout: 20
--- no_error_log
[error]
[alert]



=== TEST 2: ngx.pipe: children killed by collection leave no zombie
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local pids = {}
            for i = 1, 20 do
                pids[i] = pipe.spawn({"sleep", "100"}):pid()
            end
            collectgarbage()
            collectgarbage()
            ngx.sleep(0.3)
            local left = 0
            for _, pid in ipairs(pids) do
                if io.open("/proc/" .. pid .. "/stat") then left = left + 1 end
            end
            ngx.say("left ", left)
        }
    }
--- request
GET /t
--- response_body
left 0



=== TEST 3: ngx.pipe: a child that ignores SIGTERM
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"sh", "-c", "trap '' TERM; echo ready; sleep 3; echo done"})
            ngx.say(p:stdout_read_line())
            ngx.say(p:kill(15))
            p:set_timeouts(nil, nil, nil, 300)
            ngx.say(p:wait())
            ngx.say(p:kill(9))
            ngx.say(p:wait())
        }
    }
--- request
GET /t
--- response_body
ready
true
niltimeout
true
falsesignal9



=== TEST 4: ngx.pipe: the request ends while a thread waits on a read
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"sleep", "10"}, { stdout_read_timeout = 10000 })
            package.loaded.pid = p:pid()
            ngx.thread.spawn(function()
                p:stdout_read_line()
                ngx.log(ngx.ERR, "must not get here")
            end)
            ngx.sleep(0.05)
            ngx.exit(200)
        }
    }
    location = /after {
        content_by_lua_block {
            collectgarbage()
            collectgarbage()
            ngx.sleep(0.2)
            ngx.say("alive ", io.open("/proc/" .. package.loaded.pid .. "/stat") ~= nil)
            ngx.say(require("ngx.pipe").spawn({"echo", "still works"}):stdout_read_line())
        }
    }
--- request eval
["GET /t", "GET /after"]
--- response_body eval
["", "alive false\nstill works\n"]
--- no_error_log
must not get here
[alert]



=== TEST 5: ngx.pipe: one reader per stream and one writer at a time, all three at once
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"sh", "-c", "sleep 0.3; echo out; echo err >&2; cat >/dev/null; echo end"})
            local r1 = ngx.thread.spawn(function() return p:stdout_read_line() end)
            ngx.say("second reader: ", select(2, p:stdout_read_line()))
            local r2 = ngx.thread.spawn(function() return p:stderr_read_line() end)
            ngx.say("second stderr reader: ", select(2, p:stderr_read_any(1)))
            p:set_timeouts(100)
            -- more than the pipe holds while the child sleeps
            local w = ngx.thread.spawn(function() return p:write(("x"):rep(1024 * 1024)) end)
            ngx.say("second writer: ", select(2, p:write("y")))
            ngx.say("writer: ", select(3, ngx.thread.wait(w)))
            ngx.say("readers: ", select(2, ngx.thread.wait(r1)), " ", select(2, ngx.thread.wait(r2)))
            p:set_timeouts(5000)
            ngx.say(p:write("more"))
            p:shutdown("stdin")
            ngx.say(p:stdout_read_line())
        }
    }
--- request
GET /t
--- response_body
second reader: pipe busy reading
second stderr reader: pipe busy reading
second writer: pipe busy writing
writer: timeout
readers: out err
4
end



=== TEST 6: ngx.pipe: io.popen children are still reaped by nginx's own handler
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local p = pipe.spawn({"sleep", "0.3"})
            local f = io.popen("echo popen")
            local line = f:read("*l")
            ngx.sleep(0.1)
            ngx.say(line)
            ngx.say(p:wait())
        }
    }
--- request
GET /t
--- response_body
popen
trueexit0
--- error_log eval
qr/unknown process \d+ exited with code 0/
