# ngx.balancer outside balancer_by_lua*: no request (raised), a request
# without an upstream, and the other phases of a proxied request.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;
    my $common = <<'_EOC_';
    init_by_lua_block {
        -- Calls every ngx.balancer function and returns what each gives.
        function call_all()
            local b = require "ngx.balancer"
            local out = {}
            local function add(name, ...)
                local r = { ... }
                out[#out + 1] = name .. ": " .. tostring(r[1]) .. " " .. tostring(r[2])
                                .. " " .. tostring(r[3])
            end
            add("set_current_peer", b.set_current_peer("127.0.0.1", 80))
            add("set_more_tries", b.set_more_tries(1))
            add("get_last_failure", b.get_last_failure())
            add("set_timeouts", b.set_timeouts(1, 1, 1))
            add("recreate_request", b.recreate_request())
            add("enable_keepalive", b.enable_keepalive())
            add("set_upstream_tls", b.set_upstream_tls(true))
            add("bind_to_local_addr", b.bind_to_local_addr("127.0.0.1"))
            return table.concat(out, "\n")
        end
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "backend\n"; }
    }
_EOC_
    $block->set_value("http_config", ($block->http_config // '') . $common);
});

run_tests();

__DATA__

=== TEST 1: a request without an upstream: "no upstream found"
--- config
    location = /t {
        content_by_lua_block { ngx.say(call_all()) }
    }
--- request
GET /t
--- response_body
set_current_peer: nil no upstream found nil
set_more_tries: nil no upstream found nil
get_last_failure: nil nil no upstream found
set_timeouts: false no upstream found nil
recreate_request: nil no upstream found nil
enable_keepalive: nil no upstream found nil
set_upstream_tls: nil no upstream found nil
bind_to_local_addr: nil no upstream found nil
--- no_error_log
[error]



=== TEST 2: the other phases of a request with an upstream: "API disabled in the current context"
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        header_filter_by_lua_block { ngx.header["X-Calls"] = ngx.escape_uri(call_all()) }
        log_by_lua_block { ngx.log(ngx.WARN, "log phase:\n", call_all()) }
    }
--- request
GET /t
--- response_body
backend
--- response_headers_like
X-Calls: set_current_peer%3A%20nil%20API%20disabled%20in%20the%20current%20context%20nil.*bind_to_local_addr%3A%20nil%20API%20disabled%20in%20the%20current%20context%20nil$
--- grep_error_log eval: qr/^(?:set|get|recreate|enable|bind)_\w+: .*?(?= while|$)/m
--- grep_error_log_out
set_current_peer: nil API disabled in the current context nil
set_more_tries: nil API disabled in the current context nil
get_last_failure: nil nil API disabled in the current context
set_timeouts: false API disabled in the current context nil
recreate_request: nil API disabled in the current context nil
enable_keepalive: nil API disabled in the current context nil
set_upstream_tls: nil API disabled in the current context nil
bind_to_local_addr: nil API disabled in the current context nil



=== TEST 3: no request at all (init_worker_by_lua): the functions raise "no request found"
--- http_config
    init_worker_by_lua_block {
        local b = require "ngx.balancer"
        local calls = {
            set_current_peer = { "127.0.0.1", 80 }, set_more_tries = { 1 },
            get_last_failure = {}, set_timeouts = { 1, 1, 1 }, recreate_request = {},
            enable_keepalive = { 60, 100 }, set_upstream_tls = { true },
            bind_to_local_addr = { "127.0.0.1" },
        }
        for f, args in pairs(calls) do
            local ok, err = pcall(b[f], unpack(args))
            ngx.log(ngx.WARN, f, ": ", ok, " ", err)
        end
        -- Bad arguments too: the missing request is what is reported.
        local bad = {
            set_current_peer = { "127.0.0.1", "x" }, set_more_tries = { "x" },
            set_timeouts = { 0 }, enable_keepalive = { true },
            bind_to_local_addr = { 1 },
        }
        for f, args in pairs(bad) do
            local ok, err = pcall(b[f], unpack(args))
            ngx.log(ngx.WARN, "bad ", f, ": ", ok, " ", err)
        end
        local ok, err = pcall(b.set_current_peer, "127.0.0.1", 80, 1)
        ngx.log(ngx.WARN, "bad host: ", ok, " ", err)
    }
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/\w+: false \S+ no request found/
--- grep_error_log_out eval
[qr/\A(?:\w+: false \S+ no request found\n){14}\z/, ""]



=== TEST 4: a timer: "no upstream found"
--- config
    location = /t {
        content_by_lua_block {
            ngx.timer.at(0, function() ngx.log(ngx.WARN, "timer:\n", call_all()) end)
            ngx.sleep(0.05)
            ngx.say("ok")
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log
set_current_peer: nil no upstream found nil
bind_to_local_addr: nil no upstream found nil
--- no_error_log
[error]
