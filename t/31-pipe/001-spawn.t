# ngx.pipe: spawn's arguments and options, reading, writing, waiting,
# killing, shutting down; upstream's errors.
use Test::Nginx::Socket::Lua;

log_level('debug');
no_long_string();
env_to_nginx('PATH');
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.pipe.spawn: bad arguments and options
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local function try(...)
                local ok, err = pcall(pipe.spawn, ...)
                ngx.say(ok and "ok" or err)
            end
            try(nil)
            try({})
            try(42)
            try({"true"}, { buffer_size = 0 })
            try({"true"}, { buffer_size = 0.5 })
            try({"true"}, { buffer_size = "1" })
            try({"true"}, { buffer_size = true })
            try({"true"}, { environ = "A=1" })
            try({"true"}, { environ = { "A=1", 2 } })
            try({"true"}, { environ = { "=1" } })
            try({"true"}, { environ = { "A" } })
            try({"true"}, { write_timeout = -1 })
            try({"true"}, { stdout_read_timeout = 0x100000000 })
            try({"true"}, { stderr_read_timeout = "x" })
            try({"true"}, { wait_timeout = -0.5 })
            try({"true"}, { cwd = 1 })
            local p = pipe.spawn({"true"})
            ok, err = pcall(p.set_timeouts, p, nil, nil, nil, 0x100000000)
            ngx.say(err)
            ok, err = pcall(p.wait)
            ngx.say(err)
        }
    }
--- request
GET /t
--- response_body_like chomp
\Abad args arg: table expected, got nil
bad args arg: non-empty table expected
bad args arg: table expected, got number
bad buffer_size option
bad buffer_size option
ok
bad buffer_size option
bad environ option: table expected, got string
bad value at index 2 of environ option: string expected, got number
bad value at index 1 of environ option: 'name=\[value\]' format expected, got '=1'
bad value at index 1 of environ option: 'name=\[value\]' format expected, got 'A'
bad write_timeout option
bad stdout_read_timeout option
bad stderr_read_timeout option
bad wait_timeout option
bad cwd option: string expected, got number
.*bad wait_timeout option
.*not a process instance
\z
--- no_error_log
[error]



=== TEST 2: ngx.pipe.spawn: refused in init_by_lua
--- http_config
    init_by_lua_block {
        local ok, err = pcall(require("ngx.pipe").spawn, {"true"})
        package.loaded.init_err = err
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(package.loaded.init_err)
        }
    }
--- request
GET /t
--- response_body
API disabled in the current context



=== TEST 3: ngx.pipe: lines, bytes, any, all; partial data when the stream ends early
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local p = assert(pipe.spawn({"sh", "-c", "printf 'one\\r\\ntwo\\nthree and more\\nrest'"}))
            ngx.say(p:stdout_read_line())
            ngx.say(p:stdout_read_line())
            ngx.say(p:stdout_read_bytes(5))
            ngx.say(p:stdout_read_any(3))
            ngx.say(p:stdout_read_bytes(0))
            ngx.say(p:stdout_read_any(100))
            local d, err, partial = p:stdout_read_bytes(10)
            ngx.say(d, " ", err, " [", partial, "]")
            ngx.say(p:stdout_read_line())
            ngx.say(p:stdout_read_any(1))

            p = assert(pipe.spawn({"sh", "-c", "printf 'no newline'"}))
            d, err, partial = p:stdout_read_line()
            ngx.say(d, " ", err, " [", partial, "]")

            p = assert(pipe.spawn({"sh", "-c", "seq 1 2000"}, { buffer_size = 16 }))
            local all = assert(p:stdout_read_all())
            ngx.say(#all, " ", all:sub(1, 4) == "1\n2\n", " ", all:sub(-5) == "2000\n")
            ngx.say(p:stdout_read_all())
            ngx.say(p:wait())
        }
    }
--- request
GET /t
--- response_body
one
two
three
 an

d more
rest
nil closed []
nilclosed
nilclosed
nil closed [no newline]
8893 true true

trueexit0
--- no_error_log
[error]



=== TEST 4: ngx.pipe: read argument errors
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"true"})
            for _, f in ipairs{ function() return p:stdout_read_bytes(-1) end,
                                function() return p:stderr_read_bytes(-1) end,
                                function() return p:stdout_read_any(0) end,
                                function() return p:stderr_read_any("x") end } do
                local ok, err = pcall(f)
                ngx.say(err)
            end
            ngx.say(p:stdout_read_any("4"))
        }
    }
--- request
GET /t
--- response_body_like chomp
\A.*bad len argument
.*bad len argument
.*bad max argument
.*bad max argument
nilclosed
\z



=== TEST 5: ngx.pipe: stderr, and merge_stderr
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local p = pipe.spawn({"sh", "-c", "echo out; echo err >&2"})
            ngx.say(p:stdout_read_all(), "|", p:stderr_read_all())
            p = pipe.spawn({"sh", "-c", "echo out; sleep 0.05; echo err >&2"}, { merge_stderr = true })
            ngx.say(p:stdout_read_all())
            ngx.say(p:stderr_read_line())
            ngx.say(p:stderr_read_all())
            ngx.say(p:stderr_read_bytes(1))
            ngx.say(p:stderr_read_any(1))
            ngx.say(p:shutdown("stderr"))
        }
    }
--- request
GET /t
--- response_body
out
|err

out
err

nilmerged to stdout
nilmerged to stdout
nilmerged to stdout
nilmerged to stdout
nilmerged to stdout



=== TEST 6: ngx.pipe: write strings, numbers and tables, then shut stdin
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"cat"})
            ngx.say(p:write("ab"))
            ngx.say(p:write(12.5))
            ngx.say(p:write({ "x", "yz" }))
            ngx.say(p:write(""))
            local ok, err = pcall(p.write, p, true)
            ngx.say(err)
            ngx.say(p:shutdown("stdin"))
            ngx.say(p:write("more"))
            ngx.say(p:stdout_read_all())
            ngx.say(p:wait())
        }
    }
--- request
GET /t
--- response_body_like chomp
\A2
4
3
0
.*bad data arg: string, number, or table expected, got boolean
true
nilclosed
ab12.5xyz
trueexit0
\z



=== TEST 7: ngx.pipe: a large write that fills the pipe waits for the reader
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"wc", "-c"})
            local chunk = ("0123456789abcdef"):rep(64 * 1024)
            ngx.say(p:write(chunk))
            p:shutdown("stdin")
            ngx.say(p:stdout_read_line())
        }
    }
--- request
GET /t
--- response_body
1048576
1048576



=== TEST 8: ngx.pipe: wait: exit codes, signals, twice, timeout, busy
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            ngx.say(pipe.spawn({"sh", "-c", "exit 0"}):wait())
            ngx.say(pipe.spawn({"sh", "-c", "exit 3"}):wait())
            ngx.say(pipe.spawn({"sh", "-c", "kill -TERM $$"}):wait())
            local p = pipe.spawn({"sh", "-c", "exit 7"})
            ngx.sleep(0.1)
            ngx.say(p:wait())
            ngx.say(p:wait())
            ngx.say(p:kill(9))
            ngx.say(p:stdout_read_line())

            p = pipe.spawn({"sleep", "5"})
            p:set_timeouts(nil, nil, nil, 100)
            local t0 = ngx.now()
            ngx.say(p:wait())
            ngx.update_time()
            ngx.say(ngx.now() - t0 < 1)
            local th = ngx.thread.spawn(function() return p:wait() end)
            ngx.say(p:wait())
            ngx.say(p:kill(15))
            ngx.say(ngx.thread.wait(th))
        }
    }
--- request
GET /t
--- response_body
trueexit0
falseexit3
falsesignal15
falseexit7
nilexited
nilexited
nilclosed
niltimeout
true
nilpipe busy waiting
true
truefalsesignal15
--- error_log eval
qr/signal 17 \(SIGCHLD\) received from \d+/



=== TEST 9: ngx.pipe: kill: bad and invalid signals, an exited child
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local p = pipe.spawn({"sleep", "5"})
            local ok, err = pcall(p.kill, p)
            ngx.say(err)
            ngx.say(p:kill(10000))
            ngx.say(p:kill(0))
            ngx.say(p:kill(9))
            ngx.say(p:wait())
            p = pipe.spawn({"true"})
            ngx.sleep(0.2)
            ngx.say(p:kill(9))
        }
    }
--- request
GET /t
--- response_body_like chomp
\A.*bad signal arg: number expected, got nil
nilinvalid signal
true
true
falsesignal9
nilexited
\z



=== TEST 10: ngx.pipe: read timeouts return the partial data
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"sh", "-c", "printf 'abc'; sleep 5"},
                                                 { stdout_read_timeout = 100 })
            ngx.say(p:stdout_read_line())
            p:set_timeouts(nil, nil, 50)
            ngx.say(p:stderr_read_any(10))
            ngx.say(p:stdout_read_bytes(5))
            p:kill(9)
        }
    }
--- request
GET /t
--- response_body
niltimeoutabc
niltimeout
niltimeout
--- no_error_log
[error]



=== TEST 11: ngx.pipe: shutdown: closed directions, repeated shutdown, bad direction
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"sh", "-c", "echo out; echo err >&2"})
            for _, d in ipairs{ "stdin", "stdout", "stderr" } do
                ngx.say(d, " ", p:shutdown(d), " ", p:shutdown(d))
            end
            ngx.say(p:write("x"))
            ngx.say(p:stdout_read_line())
            ngx.say(p:stderr_read_line())
            for _, d in ipairs{ "read", 0 } do
                local ok, err = pcall(p.shutdown, p, d)
                ngx.say(err)
            end
            ngx.say(p:wait())
            ngx.say(p:shutdown("stdout"))
        }
    }
--- request
GET /t
--- response_body_like chomp
\Astdin true true
stdout true true
stderr true true
nilclosed
nilclosed
nilclosed
.*bad shutdown arg: read
.*bad shutdown arg: 0
(true|false)(exit|signal)\d+
nilclosed
\z



=== TEST 12: ngx.pipe: shutting a direction down aborts the thread waiting on it
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"sleep", "5"})
            local r = ngx.thread.spawn(function() return p:stdout_read_line() end)
            local e = ngx.thread.spawn(function() return p:stderr_read_all() end)
            p:set_timeouts(100)
            local big = ("x"):rep(1024 * 1024)
            ngx.say(p:write(big))
            local w = ngx.thread.spawn(function() return p:write(big) end)
            ngx.sleep(0.01)
            ngx.say(p:shutdown("stdout"), p:shutdown("stderr"), p:shutdown("stdin"))
            ngx.say(ngx.thread.wait(r))
            ngx.say(ngx.thread.wait(e))
            ngx.say(ngx.thread.wait(w))
            p:kill(9)
        }
    }
--- request
GET /t
--- response_body
niltimeout
truetruetrue
truenilaborted
truenilaborted
truenilaborted



=== TEST 13: ngx.pipe: reading and writing refused where Lua cannot yield
--- config
    location = /t {
        content_by_lua_block {
            package.loaded.p = require("ngx.pipe").spawn({"sleep", "10"})
            ngx.say("ok")
        }
        log_by_lua_block {
            local p = package.loaded.p
            for _, f in ipairs{ function() return p:wait() end,
                                function() return p:stdout_read_line() end,
                                function() return p:write("x") end } do
                local ok, err = pcall(f)
                ngx.log(ngx.WARN, "refused: ", err)
            end
            p:kill(9)
        }
    }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval
qr/refused: .*?API disabled in the context of log_by_lua\*/
--- grep_error_log_out eval
qr/\A(refused: .*API disabled in the context of log_by_lua\*\n){3}\z/



=== TEST 14: ngx.pipe: a command that cannot be executed exits with 1 and logs why
--- config
    location = /t {
        content_by_lua_block {
            local p = assert(require("ngx.pipe").spawn({"/no/such/program", "x"}))
            ngx.say(p:wait())
        }
    }
--- request
GET /t
--- response_body
falseexit1
--- error_log eval
qr/\[error\] \d+#\d+: lua pipe child execvp\(\) failed while executing \/no\/such\/program \(2: No such file or directory\)/



=== TEST 15: ngx.pipe: a shell string, environ and cwd
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local p = pipe.spawn("echo $0 'a b' | tr a-z A-Z")
            ngx.say(p:stdout_read_all())
            p = pipe.spawn({"sh", "-c", "echo $FOO-$BAR-${HOME:-unset}"}, { environ = { "FOO=1", "BAR=x y" } })
            ngx.say(p:stdout_read_all())
            p = pipe.spawn({"pwd"}, { cwd = "/tmp" })
            ngx.say(p:stdout_read_all())
            p = pipe.spawn({"pwd"}, { cwd = "/no/such/dir" })
            ngx.say(p:wait())
        }
    }
--- request
GET /t
--- response_body
/BIN/SH A B

1-x y-unset

/tmp

falseexit1
--- error_log eval
qr/lua pipe child chdir\(\) failed while executing \/no\/such\/dir \(2: No such file or directory\)/



=== TEST 16: ngx.pipe: the child gets stdin, stdout and stderr only, and default signal handling
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            -- ls lists its own descriptors: 0-2, and 3 for the directory
            local p = pipe.spawn({"ls", "/proc/self/fd"})
            ngx.say((p:stdout_read_all():gsub("\n", " ")))
            -- nginx ignores SIGPIPE; a child must not inherit that
            p = pipe.spawn({"sh", "-c", "kill -PIPE $$; echo survived"})
            ngx.say(p:stdout_read_all(), p:wait())
        }
    }
--- request
GET /t
--- response_body
0 1 2 3 
falsesignal13



=== TEST 17: ngx.pipe: pid, and a collected process object kills its child
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            local pid
            do
                local p = pipe.spawn({"sleep", "100"})
                pid = p:pid()
                ngx.say(type(pid), " ", pid > 0)
            end
            collectgarbage()
            collectgarbage()
            ngx.sleep(0.2)
            local f = io.open("/proc/" .. pid .. "/stat")
            ngx.say(f == nil)
        }
    }
--- request
GET /t
--- response_body
number true
true
--- error_log
lua pipe destroy process:
lua pipe kill process:



=== TEST 18: ngx.pipe: from a timer and a light thread
--- config
    location = /t {
        content_by_lua_block {
            local res
            ngx.timer.at(0, function()
                local p = require("ngx.pipe").spawn({"echo", "from timer"})
                res = p:stdout_read_line()
            end)
            local th = ngx.thread.spawn(function()
                return require("ngx.pipe").spawn({"echo", "from thread"}):stdout_read_line()
            end)
            ngx.sleep(0.2)
            ngx.say(res)
            ngx.say(select(2, ngx.thread.wait(th)))
        }
    }
--- request
GET /t
--- response_body
from timer
from thread



=== TEST 19: ngx.pipe: init_worker_by_lua may spawn but not wait
--- http_config
    init_worker_by_lua_block {
        local p = require("ngx.pipe").spawn({"true"})
        local ok, err = pcall(p.wait, p)
        package.loaded.iw = err
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(package.loaded.iw)
        }
    }
--- request
GET /t
--- response_body_like
API disabled in the context of init_worker_by_lua\*



=== TEST 20: ngx.pipe: writing to a child that closed its stdin fails with "closed", as upstream, and logs the system error
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"sh", "-c", "exec 0<&-; sleep 1"})
            ngx.sleep(0.2)
            ngx.say(p:write("hello"))
            p:kill(9)
        }
    }
--- request
GET /t
--- response_body
nilclosed
--- error_log eval
qr/lua pipe write data error pipe:[0-9A-F]+ \(\d+: Broken pipe\)/
--- no_error_log
[error]



=== TEST 21: ngx.pipe: upstream's debug lines for timers, waits and cleanups (spawn, read, wait, a killed waiting thread)
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"sleep", "5"}, { buffer_size = 256 })
            p:set_timeouts(100, 100, 100, 100)
            ngx.say(p:stdout_read_line())
            ngx.say(p:wait())
            local th = ngx.thread.spawn(function() return p:stdout_read_all() end)
            ngx.thread.kill(th)
            th = ngx.thread.spawn(function() return p:wait() end)
            ngx.thread.kill(th)
            p:kill(9)
        }
    }
--- request
GET /t
--- response_body
niltimeout
niltimeout
--- error_log eval
[
qr/lua pipe spawn process:[0-9A-F]+ pid:\d+ merge_stderr:0 buffer_size:256/,
qr/lua pipe read process:[0-9A-F]+ pid:\d+/,
"lua pipe add timer for reading: 100(ms)",
"lua pipe read yielding",
"lua pipe add timer for waiting: 100(ms)",
"lua pipe wait yielding",
"lua pipe proc read stdout cleanup",
"lua pipe proc wait cleanup",
]
--- no_error_log
[error]



=== TEST 22: ngx.pipe: argument errors of a method called by pcall carry no position, as upstream's
--- config
    location = /t {
        content_by_lua_block {
            local p = require("ngx.pipe").spawn({"true"})
            ngx.say(select(2, pcall(p.stdout_read_bytes, p, -1)))
            ngx.say(select(2, pcall(p.stderr_read_any, p, 0)))
        }
    }
--- request
GET /t
--- response_body
bad len argument
bad max argument
--- no_error_log
[error]
