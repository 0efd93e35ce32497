# ngx.process with a master, two workers and a privileged agent: process
# types, the agent doing work from a timer while workers serve, its user,
# its place among nginx's processes, graceful exits.
use Test::Nginx::Socket::Lua;

master_on();
workers(2);
no_long_string();
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.process: types and the master's pid in init, init_worker and requests
--- http_config
    lua_shared_dict seen 1m;
    init_by_lua_block {
        local process = require "ngx.process"
        package.loaded.init_type = process.type()
    }
    init_worker_by_lua_block {
        local process = require "ngx.process"
        ngx.shared.seen:set("iw:" .. ngx.worker.pid(), process.type())
    }
--- config
    location = /t {
        content_by_lua_block {
            local process = require "ngx.process"
            local f = io.open(ngx.config.prefix() .. "logs/nginx.pid")
            local master = tonumber(f:read("*l"))
            f:close()
            ngx.say(package.loaded.init_type, " ", process.type(), " ",
                    ngx.shared.seen:get("iw:" .. ngx.worker.pid()), " ",
                    process.get_master_pid() == master)
        }
    }
--- request
GET /t
--- response_body
master worker worker true
--- no_error_log
[error]



=== TEST 2: ngx.process.enable_privileged_agent: outside init_by_lua, bad connections
--- http_config
    init_by_lua_block {
        local process = require "ngx.process"
        package.loaded.bad = { process.enable_privileged_agent("x") }
        package.loaded.neg = { process.enable_privileged_agent(-1) }
    }
--- config
    location = /t {
        content_by_lua_block {
            local process = require "ngx.process"
            ngx.say(process.enable_privileged_agent(10))
            ngx.say(unpack(package.loaded.bad))
            ngx.say(unpack(package.loaded.neg))
        }
    }
--- request
GET /t
--- response_body
nilAPI disabled in the current context
nilbad 'connections' argument: number expected and greater than 0
nilbad 'connections' argument: number expected and greater than 0



=== TEST 3: ngx.process: the privileged agent runs init_worker_by_lua and a timer while the workers serve
--- http_config
    lua_shared_dict agent 1m;
    init_by_lua_block {
        assert(require("ngx.process").enable_privileged_agent(64))
    }
    init_worker_by_lua_block {
        local process = require "ngx.process"
        if process.type() ~= "privileged agent" then
            return
        end
        local d = ngx.shared.agent
        d:set("pid", ngx.worker.pid())
        d:set("worker_id", tostring(ngx.worker.id()))
        d:set("master", process.get_master_pid())
        ngx.timer.every(0.05, function()
            d:incr("ticks", 1, 0)
        end)
    }
--- config
    location = /t {
        content_by_lua_block {
            local process = require "ngx.process"
            ngx.sleep(0.5)
            local d = ngx.shared.agent
            local agent = d:get("pid")
            local ticks = d:get("ticks") or 0
            local f = assert(io.open("/proc/" .. agent .. "/stat"))
            local ppid = tonumber(f:read("*l"):match("%) %a (%d+)"))
            f:close()
            f = assert(io.open("/proc/" .. agent .. "/cmdline"))
            local title = f:read("*a")
            f:close()
            ngx.say("served by ", process.type())
            ngx.say("agent is not this worker: ", agent ~= ngx.worker.pid())
            ngx.say("agent's parent is the master: ", ppid == process.get_master_pid(),
                    " ", d:get("master") == process.get_master_pid())
            ngx.say("agent has no worker id: ", d:get("worker_id"))
            ngx.say("ticking: ", ticks >= 3)
            ngx.say("title: ", title:match("^nginx: [%a ]+"))
        }
    }
--- request
GET /t
--- response_body
served by worker
agent is not this worker: true
agent's parent is the master: true true
agent has no worker id: nil
ticking: true
title: nginx: privileged agent process
--- error_log eval
qr/start privileged agent process \d+/
--- no_error_log
[error]
[alert]



=== TEST 4: ngx.process: the agent keeps the master's user, workers take nginx's
--- skip_eval: 2: $> != 0
--- main_config
    user nobody nogroup;
--- http_config
    lua_shared_dict agent 1m;
    init_by_lua_block {
        require("ngx.process").enable_privileged_agent()
    }
    init_worker_by_lua_block {
        if require("ngx.process").type() == "privileged agent" then
            ngx.shared.agent:set("pid", ngx.worker.pid())
        end
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.3)
            local function uid(pid)
                local f = assert(io.open("/proc/" .. pid .. "/status"))
                local u = f:read("*a"):match("\nUid:%s+(%d+)")
                f:close()
                return u
            end
            ngx.say("agent ", uid(ngx.shared.agent:get("pid")), ", worker ", uid(ngx.worker.pid()))
        }
    }
--- request
GET /t
--- response_body
agent 0, worker 65534



=== TEST 5: ngx.process: a killed agent is respawned by the master; it exits with nginx, running its timers
--- http_config
    lua_shared_dict agent 1m;
    init_by_lua_block {
        require("ngx.process").enable_privileged_agent()
    }
    init_worker_by_lua_block {
        if require("ngx.process").type() ~= "privileged agent" then
            return
        end
        ngx.shared.agent:set("pid", ngx.worker.pid())
        ngx.timer.at(100, function(premature)
            ngx.log(ngx.WARN, "agent timer premature: ", premature)
        end)
    }
    exit_worker_by_lua_block {
        if require("ngx.process").type() == "privileged agent" then
            ngx.log(ngx.WARN, "agent exit_worker")
        end
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.3)
            local first = ngx.shared.agent:get("pid")
            os.execute("kill -9 " .. first)
            ngx.sleep(0.5)
            local second = ngx.shared.agent:get("pid")
            ngx.say(first ~= second, " ", io.open("/proc/" .. second .. "/stat") ~= nil)
        }
    }
--- request
GET /t
--- response_body
true true
--- error_log eval
qr/privileged agent process \d+ exited on signal 9/
--- shutdown_error_log
agent timer premature: true
agent exit_worker



=== TEST 6: ngx.process.signal_graceful_exit: the worker quits after its request, the master starts another
--- http_config
    init_worker_by_lua_block {
        package.loaded.started = ngx.now()
    }
    exit_worker_by_lua_block {
        ngx.log(ngx.WARN, "worker ", ngx.worker.pid(), " exits gracefully")
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("pid ", ngx.worker.pid())
            require("ngx.process").signal_graceful_exit()
        }
    }
--- request
GET /t
--- response_body_like
pid \d+
--- wait: 0.5
--- error_log eval
[qr/worker \d+ exits gracefully/, qr/worker process \d+ exited with code 0/]



=== TEST 7: ngx.process.enable_privileged_agent(0): no agent is spawned, with upstream's alert
--- http_config
    lua_shared_dict seen 1m;
    init_by_lua_block {
        assert(require("ngx.process").enable_privileged_agent(0))
    }
    init_worker_by_lua_block {
        ngx.shared.seen:set(require("ngx.process").type(), true)
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.2)
            ngx.say(ngx.shared.seen:get("worker"), " ", ngx.shared.seen:get("privileged agent"))
        }
    }
--- request
GET /t
--- response_body
true nil
--- error_log
0 worker_connection is not enough, privileged agent process cannot be spawned
--- no_error_log
[error]
[emerg]
