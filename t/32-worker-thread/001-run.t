# ngx.run_worker_thread on nginx's thread pools: the API a thread's VM
# has, copying arguments and results, bad pools, modules and functions,
# the VM pool limit, the caller's request ending, phases.
use Test::Nginx::Socket::Lua;

no_long_string();
plan 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("main_config", "thread_pool testpool threads=4;\n" . ($block->main_config // ''));
    my $http = $block->http_config // '';
    $block->set_value("http_config", "lua_package_path '\$TEST_NGINX_HTML_DIR/?.lua;;';\n$http");
});

run_tests();

__DATA__

=== TEST 1: ngx.run_worker_thread: the ngx.* of a worker thread
--- user_files
>>> calc.lua
local _M = {}
function _M.work(s)
    return ngx.md5(s), ngx.encode_base64(s), ngx.decode_base64("aGVsbG8="),
           ngx.encode_args({ a = "b c" }), ngx.quote_sql_str("it's"),
           ngx.crc32_short(s), ngx.config.subsystem, type(ngx.config.nginx_version),
           ngx.escape_uri("a b"), type(ngx.say), type(ngx.var), type(ngx.sleep)
end
return _M
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.run_worker_thread("testpool", "calc", "work", "hello"))
        }
    }
--- request
GET /t
--- response_body
true5d41402abc4b2a76b9719d911017c592aGVsbG8=helloa=b%20c'it\'s'907060870httpnumbera%20bnilnilnil
--- no_error_log
[error]



=== TEST 2: ngx.run_worker_thread: arguments and results of every copyable type, nested tables
--- user_files
>>> echo.lua
return {
    echo = function(...) return ... end,
    count = function(...) return select("#", ...) end,
    shape = function(t) return t.a[1], t.a[2].b, t[true], t[1.5], #t.list end,
}
--- config
    location = /t {
        content_by_lua_block {
            local r = { n = select("#", ngx.run_worker_thread("testpool", "echo", "echo", 1, "two", true, false, nil, 2.5)),
                        ngx.run_worker_thread("testpool", "echo", "echo", 1, "two", true, false, nil, 2.5) }
            ngx.say(r.n, " ", r[1], " ", r[2], " ", r[3], " ", r[4], " ", r[5], " ", r[6], " ", r[7])
            ngx.say(ngx.run_worker_thread("testpool", "echo", "count", nil, nil, 3))
            local big = { list = {} }
            for i = 1, 1000 do big.list[i] = i end
            big.a = { "x", { b = "deep" } }
            big[true] = "bool key"
            big[1.5] = "float key"
            ngx.say(ngx.run_worker_thread("testpool", "echo", "shape", big))
            local ok, t = ngx.run_worker_thread("testpool", "echo", "echo", { k = { 1, 2, { 3 } } })
            ngx.say(ok, " ", t.k[3][1])
        }
    }
--- request
GET /t
--- response_body
7 true 1 two true false nil 2.5
true3
truexdeepbool keyfloat key1000
true 3
--- no_error_log
[error]



=== TEST 3: ngx.run_worker_thread: values that cannot be copied
--- user_files
>>> bad.lua
return {
    fn = function() return function() end end,
    co = function() return coroutine.create(function() end) end,
    deep = function()
        local t = {}
        local cur = t
        for i = 1, 200 do cur.n = {} cur = cur.n end
        return t
    end,
    ok = function() return true end,
}
--- config
    location = /t {
        content_by_lua_block {
            local function try(...) ngx.say(ngx.run_worker_thread("testpool", ...)) end
            try("bad", "ok", function() end)
            try("bad", "ok", { f = print })
            try("bad", "ok", { [{}] = 1, x = ngx.null })
            try("bad", "ok", coroutine.create(function() end))
            try("bad", "fn")
            try("bad", "co")
            try("bad", "deep")
            local t = {}
            t.self = t
            try("bad", "ok", t)
        }
    }
--- request
GET /t
--- response_body
falseunsupported Lua type: LUA_TFUNCTION in the argument
falseunsupported Lua type: LUA_TFUNCTION in the argument
truetrue
falseunsupported Lua type: LUA_TTHREAD in the argument
falseunsupported Lua type: LUA_TFUNCTION in the return value
falseunsupported Lua type: LUA_TTHREAD in the return value
falsesuspicious circular references, table depth exceed max depth: 100 in the return value
falsesuspicious circular references, table depth exceed max depth: 100 in the argument



=== TEST 4: ngx.run_worker_thread: bad pools, modules and functions
--- user_files
>>> notatable.lua
return 42
>>> broken.lua
return {
>>> raises.lua
return { f = function() error("boom") end, g = function() error({}) end }
--- config
    location = /t {
        content_by_lua_block {
            local function try(...) ngx.say(ngx.run_worker_thread(...)) end
            try("nopool", "raises", "f")
            try(nil, "raises", "f")
            try("testpool", nil, "f")
            try("testpool", "raises", nil)
            try("testpool", "raises")
            try("testpool", "nosuchmodule", "f")
            try("testpool", "notatable", "f")
            try("testpool", "broken", "f")
            try("testpool", "raises", "nosuchfunction")
            try("testpool", "raises", "f")
            try("testpool", "raises", "g")
        }
    }
--- request
GET /t
--- response_body_like chomp
\Afalsethread pool nopool not found
falsethreadpool should be a string
falsemodule name should be a string
falsefunction name should be a string
falseexpecting at least 3 arguments
falsemodule 'nosuchmodule' not found:.*
falseinvalid lua module
false.*broken.lua:\d+: .*
falseinvalid function
false.*raises.lua:1: boom
falsetable: 0x[0-9a-f]+|false.*
\z
--- no_error_log
[alert]



=== TEST 5: ngx.run_worker_thread: blocking work does not block the event loop; shared dicts
--- http_config
    lua_shared_dict counter 1m;
--- user_files
>>> slow.lua
return {
    run = function(ms)
        os.execute("sleep " .. ms / 1000)
        return ngx.shared.counter:incr("n", 1, 0)
    end,
}
--- config
    location = /t {
        content_by_lua_block {
            local ticks = 0
            local ticker = ngx.thread.spawn(function()
                for i = 1, 100 do
                    ngx.sleep(0.02)
                    ticks = ticks + 1
                    if done then return end
                end
            end)
            local ok, n = ngx.run_worker_thread("testpool", "slow", "run", 300)
            done = true
            ngx.say(ok, " ", n, " ", ngx.shared.counter:get("n"), " ticks while waiting: ", ticks >= 8)
        }
    }
--- request
GET /t
--- response_body
true 1 1 ticks while waiting: true



=== TEST 6: lua_worker_thread_vm_pool_size: no VM left for a third concurrent call
--- http_config
    lua_worker_thread_vm_pool_size 2;
--- user_files
>>> slow.lua
return { run = function() os.execute("sleep 0.2") return "slept" end }
--- config
    location = /t {
        content_by_lua_block {
            local th = {}
            for i = 1, 3 do
                th[i] = ngx.thread.spawn(ngx.run_worker_thread, "testpool", "slow", "run")
            end
            for i = 1, 3 do
                ngx.say(select(2, ngx.thread.wait(th[i])))
            end
            -- the VMs came back to the pool
            ngx.say(ngx.run_worker_thread("testpool", "slow", "run"))
        }
    }
--- request
GET /t
--- response_body
trueslept
trueslept
falseno available Lua vm
trueslept



=== TEST 7: ngx.run_worker_thread: the caller's request ends while the thread works; the VM is reused
--- http_config
    lua_worker_thread_vm_pool_size 1;
--- user_files
>>> slow.lua
return { run = function() os.execute("sleep 0.2") return "slept" end }
--- config
    location = /t {
        content_by_lua_block {
            ngx.thread.spawn(ngx.run_worker_thread, "testpool", "slow", "run")
            ngx.sleep(0.05)
            ngx.exit(200)
        }
    }
    location = /after {
        content_by_lua_block {
            ngx.sleep(0.3)
            ngx.say(ngx.run_worker_thread("testpool", "slow", "run"))
        }
    }
--- request eval
["GET /t", "GET /after"]
--- response_body eval
["", "trueslept\n"]
--- no_error_log
[alert]



=== TEST 8: ngx.run_worker_thread: from a timer, and refused where Lua cannot yield
--- user_files
>>> m.lua
return { f = function() return "ran" end }
--- http_config
    init_worker_by_lua_block {
        local ok, err = pcall(ngx.run_worker_thread, "testpool", "m", "f")
        package.loaded.iw = err
    }
--- config
    location = /t {
        content_by_lua_block {
            local res
            ngx.timer.at(0, function() res = { ngx.run_worker_thread("testpool", "m", "f") } end)
            ngx.sleep(0.2)
            ngx.say(res[1], " ", res[2])
            ngx.say(package.loaded.iw)
        }
        log_by_lua_block {
            local ok, err = pcall(ngx.run_worker_thread, "testpool", "m", "f")
            ngx.log(ngx.WARN, "log phase: ", err)
        }
    }
--- request
GET /t
--- response_body_like
true ran
.*API disabled in the context of init_worker_by_lua\*
--- error_log
API disabled in the context of log_by_lua*



=== TEST 9: ngx.run_worker_thread: many calls in parallel from light threads
--- http_config
    lua_worker_thread_vm_pool_size 50;
--- user_files
>>> sq.lua
return { sq = function(x) return x * x end }
--- config
    location = /t {
        content_by_lua_block {
            local th = {}
            for i = 1, 50 do
                th[i] = ngx.thread.spawn(ngx.run_worker_thread, "testpool", "sq", "sq", i)
            end
            local sum = 0
            for i = 1, 50 do
                local _, ok, v = ngx.thread.wait(th[i])
                if ok then sum = sum + v end
            end
            ngx.say(sum)
        }
    }
--- request
GET /t
--- response_body
42925
