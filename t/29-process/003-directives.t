# lua_sa_restart and lua_malloc_trim.
use Test::Nginx::Socket::Lua;

env_to_nginx('PATH');
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_sa_restart on (the default): a read Lua blocks in survives a signal nginx handles
--- config
    location = /t {
        content_by_lua_block {
            -- the child signals the worker while the worker waits for its output
            local f = io.popen("sleep 0.1; kill -IO " .. ngx.worker.pid() .. "; sleep 0.1; echo done")
            ngx.print(f:read("*a"))
            f:close()
        }
    }
--- request
GET /t
--- response_body
done
--- error_log
signal 29 (SIGIO) received



=== TEST 2: lua_sa_restart off: the same read fails with EINTR
--- http_config
    lua_sa_restart off;
--- config
    location = /t {
        content_by_lua_block {
            local f = io.popen("sleep 0.1; kill -IO " .. ngx.worker.pid() .. "; sleep 0.1; echo done")
            ngx.say(f:read("*a"))
            f:close()
        }
    }
--- request
GET /t
--- response_body
nilInterrupted system call4



=== TEST 3: lua_sa_restart: duplicate, bad value
--- http_config
    lua_sa_restart on;
    lua_sa_restart off;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
"lua_sa_restart" directive is duplicate



=== TEST 4: lua_malloc_trim 1: libc's free memory is trimmed after every request
--- http_config
    lua_malloc_trim 1;
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
    }
--- log_level: debug
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/malloc_trim\(1\) returned \d/



=== TEST 5: lua_malloc_trim 0: never
--- http_config
    lua_malloc_trim 0;
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
        log_by_lua_block { }
    }
--- log_level: debug
--- request
GET /t
--- response_body
ok
--- no_error_log
malloc_trim(1) returned



=== TEST 6: lua_malloc_trim: a bad number
--- http_config
    lua_malloc_trim x;
--- config
    location = /t { return 200; }
--- must_die
--- error_log
invalid number in the 1st argument
