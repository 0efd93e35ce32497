# ngx.pipe with a master and two workers: our SIGCHLD handler lives in the
# workers only, so the master still reaps and respawns its workers.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
env_to_nginx('PATH');
plan tests => blocks() * 4;
run_tests();

__DATA__

=== TEST 1: ngx.pipe: a worker killed after using pipes is reaped by the master's own handler
--- config
    location = /t {
        content_by_lua_block {
            local pipe = require "ngx.pipe"
            ngx.say(pipe.spawn({"sh", "-c", "exit 4"}):wait())
            -- once the response is out, a child of this worker kills it
            ngx.timer.at(0.05, function()
                pipe.spawn({"kill", "-9", tostring(ngx.worker.pid())})
            end)
        }
    }
--- request
GET /t
--- response_body
falseexit4
--- wait: 0.5
--- error_log eval
qr/worker process \d+ exited on signal 9/
--- no_error_log
[crit]
