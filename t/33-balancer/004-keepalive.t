# ngx.balancer.enable_keepalive and balancer_keepalive: upstream
# connections kept per peer (and host), counted on the backend side: the
# backend answers with its $connection and $connection_requests, which
# backend_conns() turns into A1 A2 B1 ... (connection, request on it).
# Each block runs once: a worker's pool outlives the requests of a block.
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

$ENV{TEST_NGINX_CERT_DIR} ||= abs_path(dirname(__FILE__) . "/../cert");

repeat_each(1);
plan 'no_plan';
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;
    my $common = <<'_EOC_';
    init_by_lua_block {
        -- Runs the subrequests in order ("sleep" waits 0.3 s) and names the
        -- backend connections they used.
        function backend_conns(uris)
            local names, n, out = {}, 0, {}
            for _, uri in ipairs(uris) do
                if uri == "sleep" then
                    ngx.sleep(0.3)
                else
                    local res = ngx.location.capture(uri)
                    local c, r = res.body:match("(%d+) (%d+)")
                    if c then
                        if not names[c] then
                            n = n + 1
                            names[c] = string.char(64 + n)
                        end
                        out[#out + 1] = names[c] .. r
                    else
                        out[#out + 1] = res.status
                    end
                end
            end
            return table.concat(out, " ")
        end
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive_requests 1000;
        location / { return 200 "$connection $connection_requests\n"; }
        location = /bad { return 502; }
        location = /close {
            keepalive_timeout 0;
            return 200 "$connection $connection_requests\n";
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        keepalive_timeout 100ms;
        location / { return 200 "$connection $connection_requests\n"; }
    }
_EOC_
    $block->set_value("http_config", ($block->http_config // '') . $common);
    if (!defined $block->request) {
        $block->set_value("request", "GET /t");
    }
});

run_tests();

__DATA__

=== TEST 1: enable_keepalive: one backend connection serves the requests
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive())
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/", "/p/", "/p/", "/p/" })) }
    }
--- response_body
A1 A2 A3 A4
--- no_error_log
[error]



=== TEST 2: enable_keepalive: the pool outlives the client requests
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive())
        }
    }
--- config
    location = /t {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://backend/;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- response_body_like eval
["^\\d+ 1\n\$", "^\\d+ 2\n\$", "^\\d+ 3\n\$"]
--- no_error_log
[error]



=== TEST 3: without enable_keepalive (or nginx's keepalive) every request connects anew
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            assert(require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/", "/p/", "/p/" })) }
    }
--- response_body
A1 B1 C1
--- no_error_log
[error]



=== TEST 4: enable_keepalive: max_requests caps the requests of a connection
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive(60, 2))
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/", "/p/", "/p/", "/p/", "/p/" })) }
    }
--- response_body
A1 A2 B1 B2 C1
--- no_error_log
[error]



=== TEST 5: enable_keepalive: max_requests 0 never retires a connection
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive(60, 0))
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block {
            local uris = {}
            for i = 1, 120 do uris[i] = "/p/" end
            local out = backend_conns(uris)
            ngx.say(out:match("^A1 .* (%S+)$"), " ", select(2, out:gsub("A", "")))
        }
    }
--- response_body
A120 120
--- no_error_log
[error]



=== TEST 6: enable_keepalive: the default max_requests is 100
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive())
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block {
            local uris = {}
            for i = 1, 102 do uris[i] = "/p/" end
            local out = backend_conns(uris)
            ngx.say(out:match("(A%d+) B1 B2$"))
        }
    }
--- response_body
A100
--- no_error_log
[error]



=== TEST 7: enable_keepalive: idle_timeout closes an idle connection
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive(0.1))
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/", "/p/", "sleep", "/p/", "/p/" })) }
    }
--- response_body
A1 A2 B1 B2
--- no_error_log
[error]



=== TEST 8: enable_keepalive: a connection the backend closes while idle leaves the pool
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            assert(b.enable_keepalive())
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/", "/p/", "sleep", "/p/" })) }
    }
--- response_body
A1 A2 B1
--- no_error_log
[error]



=== TEST 9: enable_keepalive: a response that closes its connection is not kept
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive())
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/", "/p/close", "/p/", "/p/" })) }
    }
--- response_body
A1 A2 B1 B2
--- no_error_log
[error]



=== TEST 10: enable_keepalive: a failed try's connection is not kept (the last try's 502 is a response: its connection is)
--- http_config
    proxy_next_upstream error http_502;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive())
            if not b.get_last_failure() and ngx.var.arg_bad then
                b.set_more_tries(1)
            end
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ {
        if ($arg_bad) { rewrite ^ /bad break; }
        proxy_pass http://backend;
    }
    location = /t {
        content_by_lua_block {
            ngx.say(backend_conns({ "/p/", "/p/?bad=1", "/p/" }))
        }
    }
--- response_body
A1 502 B2
--- no_error_log
[alert]



=== TEST 11: enable_keepalive: one pool per host name
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1, ngx.var.arg_host))
            assert(b.enable_keepalive())
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block {
            ngx.say(backend_conns({ "/p/?host=a", "/p/?host=b", "/p/?host=A", "/p/?host=b", "/p/" }))
        }
    }
--- response_body
A1 B1 A2 B2 C1
--- no_error_log
[error]



=== TEST 12: balancer_keepalive: a full pool closes its least recently used connection
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_keepalive 1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1, ngx.var.arg_host))
            assert(b.enable_keepalive())
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block {
            ngx.say(backend_conns({ "/p/?host=a", "/p/?host=b", "/p/?host=a", "/p/?host=a" }))
        }
    }
--- response_body
A1 B1 C1 C2
--- no_error_log
[error]



=== TEST 13: enable_keepalive: TLS connections are kept per SNI name
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_3, ngx.var.arg_host))
            assert(b.enable_keepalive())
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        location / { return 200 "$ssl_server_name $connection $connection_requests\n"; }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_ssl_server_name on;
    location /p/ { proxy_pass https://backend/; }
    location = /t {
        content_by_lua_block {
            local out = {}
            for _, h in ipairs({ "one.test", "two.test", "one.test", "two.test" }) do
                out[#out + 1] = ngx.location.capture("/p/?host=" .. h).body:match("^%S+")
            end
            ngx.say(table.concat(out, " "), ": ",
                    backend_conns({ "/p/?host=one.test", "/p/?host=two.test", "/p/?host=one.test" }))
        }
    }
--- response_body
one.test two.test one.test two.test: A3 B3 A4
--- no_error_log
[error]



=== TEST 14: nginx's keepalive after the balancer pools the connections of Lua's peers
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            assert(require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
        keepalive 4;
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/", "/p/", "/p/" })) }
    }
--- response_body
A1 A2 A3
--- no_error_log
[error]
[warn]



=== TEST 15: nginx's keepalive before the balancer is redefined (warning): Lua's peers bypass it
--- http_config
    upstream backend {
        server 0.0.0.1;
        keepalive 4;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            if ngx.var.arg_ka then
                assert(b.enable_keepalive())
            end
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block {
            ngx.say(backend_conns({ "/p/", "/p/", "/p/?ka=1", "/p/?ka=1" }))
        }
    }
--- response_body
A1 B1 C1 C2
--- grep_error_log eval: qr/load balancing method redefined/
--- grep_error_log_out eval
["load balancing method redefined\n", ""]



=== TEST 16: enable_keepalive must be called in each try
--- http_config
    proxy_next_upstream error;
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            if not b.get_last_failure() and ngx.var.arg_retry then
                -- First try: keepalive on, to a peer that refuses.
                b.set_more_tries(1)
                assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_4))
                assert(b.enable_keepalive())
                return
            end
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/?retry=1", "/p/" })) }
    }
--- response_body
A1 B1



=== TEST 17: enable_keepalive: before set_current_peer, and bad arguments
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local ok, err = b.enable_keepalive()
            ngx.log(ngx.WARN, "no peer: ", ok, " ", err)
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            for _, args in ipairs({ { true }, { -1 }, { nil, "x" }, { nil, -2 } }) do
                local ok, err = pcall(b.enable_keepalive, args[1], args[2])
                ngx.log(ngx.WARN, "enable_keepalive: ", err)
            end
        }
    }
--- config
    location = /t { proxy_pass http://backend/; }
--- response_body_like: ^\d+ 1$
--- grep_error_log eval: qr/(?:no peer|enable_keepalive): .*?(?= while connecting)/
--- grep_error_log_out
no peer: nil no current peer set
enable_keepalive: bad argument #1 to 'enable_keepalive' (number expected, got boolean)
enable_keepalive: bad argument #1 to 'enable_keepalive' (expected >= 0)
enable_keepalive: bad argument #2 to 'enable_keepalive' (number expected, got string)
enable_keepalive: bad argument #2 to 'enable_keepalive' (expected >= 0)



=== TEST 18: enable_keepalive: idle_timeout 0 keeps an idle connection without a timeout (as documented)
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.enable_keepalive(0))
        }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /p/ { proxy_pass http://backend/; }
    location = /t {
        content_by_lua_block { ngx.say(backend_conns({ "/p/", "sleep", "/p/" })) }
    }
--- response_body
A1 A2
--- no_error_log
[error]



=== TEST 19: enable_keepalive: without a host, TLS connections are kept per the SNI name nginx sends (proxy_ssl_name)
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_3))
            assert(b.enable_keepalive())
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        location / { return 200 "$ssl_server_name $connection $connection_requests\n"; }
    }
--- config
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_ssl_server_name on;
    proxy_ssl_name $arg_sni;
    location /p/ { proxy_pass https://backend/; }
    location = /t {
        content_by_lua_block {
            local out = {}
            for _, h in ipairs({ "one.test", "two.test" }) do
                out[#out + 1] = ngx.location.capture("/p/?sni=" .. h).body:match("^%S+")
            end
            ngx.say(table.concat(out, " "), ": ",
                    backend_conns({ "/p/?sni=one.test", "/p/?sni=two.test", "/p/?sni=ONE.test" }))
        }
    }
--- response_body
one.test two.test: A2 B2 A3
--- no_error_log
[error]
