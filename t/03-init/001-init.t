# init_by_lua*, init_worker_by_lua*, exit_worker_by_lua*.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: init_by_lua globals and modules are visible to handlers
--- http_config
    init_by_lua_block {
        greeting = "hi from init"
        package.loaded.mymod = { answer = 42 }
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(greeting, " ", require("mymod").answer)
        }
    }
--- request
GET /t
--- response_body
hi from init 42
--- no_error_log
[warn]
[error]



=== TEST 2: init phase name, and request APIs are refused there
--- http_config
    init_by_lua_block {
        phase_at_init = ngx.get_phase()
        local ok, err = pcall(ngx.say, "x")
        say_err = err
        local ok2, err2 = pcall(ngx.sleep, 1)
        sleep_err = err2
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say(phase_at_init, "|", say_err, "|", sleep_err) }
    }
--- request
GET /t
--- response_body
init|no request object found|no request found



=== TEST 3: an init_by_lua error stops nginx from starting
--- http_config
    init_by_lua_block { error("init failed on purpose") }
--- config
--- must_die
--- error_log
init_by_lua error: init_by_lua(nginx.conf:



=== TEST 4: init_by_lua_file
--- http_config
    init_by_lua_file html/init.lua;
--- config
    location = /t {
        content_by_lua_block { ngx.say(from_file) }
    }
--- user_files
>>> init.lua
from_file = "loaded"
--- request
GET /t
--- response_body
loaded



=== TEST 5: init_worker_by_lua runs in the worker, with its phase name
--- http_config
    init_worker_by_lua_block {
        worker_phase = ngx.get_phase()
        ngx.log(ngx.WARN, "init worker ran in ", ngx.worker.pid())
    }
--- config
    location = /t {
        content_by_lua_block { ngx.say(worker_phase) }
    }
--- request
GET /t
--- response_body
init_worker
--- error_log eval
qr/\[warn\] .*init_worker_by_lua\(nginx\.conf:\d+\):3: init worker ran in \d+/



=== TEST 6: init_worker_by_lua errors are logged, the worker keeps serving
--- http_config
    init_worker_by_lua_block { error("iw boom") }
--- config
    location = /t {
        content_by_lua_block { ngx.say("still up") }
    }
--- request
GET /t
--- response_body
still up
--- error_log
init_worker_by_lua error: init_worker_by_lua(nginx.conf:



=== TEST 7: exit_worker_by_lua runs when the worker exits
--- http_config
    exit_worker_by_lua_block { ngx.log(ngx.WARN, "bye from ", ngx.get_phase()) }
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log
bye from exit_worker



=== TEST 8: no global-variable warning in init phases, one in handlers
--- http_config
    init_by_lua_block { set_in_init = 1 }
    init_worker_by_lua_block { set_in_init_worker = 1 }
--- config
    location = /t {
        content_by_lua_block { set_in_content = 1 ngx.say("ok") }
    }
--- request
GET /t
--- response_body
ok
--- error_log eval
[
qr/\[warn\] .*writing a global Lua variable \('set_in_content'\) which may lead to race conditions between concurrent requests, so prefer the use of 'local' variables$/,
qr/^\s+content_by_lua\(nginx\.conf:\d+\):1: in main chunk/,
]
--- no_error_log
('set_in_init')
('set_in_init_worker')
