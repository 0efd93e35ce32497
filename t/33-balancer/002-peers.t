# ngx.balancer.set_current_peer and bind_to_local_addr: choosing peers
# (IPv4, IPv6, unix sockets, the TLS host name), $upstream_addr, and the
# errors for addresses that do not parse.
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

$ENV{TEST_NGINX_CERT_DIR} ||= abs_path(dirname(__FILE__) . "/../cert");

repeat_each(2);
plan 'no_plan';
no_long_string();
run_tests();

__DATA__

=== TEST 1: set_current_peer: choosing among three peers, $upstream_addr shows the choice
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local ports = { $TEST_NGINX_RAND_PORT_1, $TEST_NGINX_RAND_PORT_2, $TEST_NGINX_RAND_PORT_3 }
            local i = tonumber(ngx.req.get_headers()["x-peer"])
            assert(b.set_current_peer("127.0.0.1", ports[i]))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        location / { return 200 "peer on $server_port"; }
    }
--- config
    location = /p {
        proxy_pass http://backend;
        header_filter_by_lua_block { ngx.header["X-Upstream"] = ngx.var.upstream_addr }
    }
    location = /t {
        content_by_lua_block {
            for _, i in ipairs({ 2, 3, 1, 2 }) do
                ngx.req.set_header("X-Peer", i)
                local res = ngx.location.capture("/p")
                ngx.say(i, ": ", res.body, " via ", res.header["X-Upstream"])
            end
        }
    }
--- request
GET /t
--- response_body
2: peer on $TEST_NGINX_RAND_PORT_2 via 127.0.0.1:$TEST_NGINX_RAND_PORT_2
3: peer on $TEST_NGINX_RAND_PORT_3 via 127.0.0.1:$TEST_NGINX_RAND_PORT_3
1: peer on $TEST_NGINX_RAND_PORT_1 via 127.0.0.1:$TEST_NGINX_RAND_PORT_1
2: peer on $TEST_NGINX_RAND_PORT_2 via 127.0.0.1:$TEST_NGINX_RAND_PORT_2
--- no_error_log
[error]



=== TEST 2: set_current_peer: the port in the address, or as a string
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            if ngx.var.arg_form == "embedded" then
                assert(b.set_current_peer("127.0.0.1:$TEST_NGINX_RAND_PORT_1"))
            else
                assert(b.set_current_peer("127.0.0.1", "$TEST_NGINX_RAND_PORT_1"))
            end
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "$arg_form\n"; }
    }
--- config
    location = /p {
        proxy_pass http://backend;
    }
    location = /t {
        content_by_lua_block {
            ngx.print(ngx.location.capture("/p?form=embedded").body)
            ngx.print(ngx.location.capture("/p?form=string").body)
        }
    }
--- request
GET /t
--- response_body
embedded
string
--- no_error_log
[error]



=== TEST 3: set_current_peer: an IPv6 address
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            assert(require("ngx.balancer").set_current_peer("[::1]", $TEST_NGINX_RAND_PORT_1))
        }
    }
    server {
        listen [::1]:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "from $remote_addr\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
        add_header X-Upstream $upstream_addr;
    }
--- request
GET /t
--- response_body
from ::1
--- response_headers
X-Upstream: [::1]:$TEST_NGINX_RAND_PORT_1
--- no_error_log
[error]



=== TEST 4: set_current_peer: a unix socket
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            assert(require("ngx.balancer").set_current_peer("unix:$TEST_NGINX_HTML_DIR/peer.sock"))
        }
    }
    server {
        listen unix:$TEST_NGINX_HTML_DIR/peer.sock;
        location / { return 200 "over a unix socket\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
        add_header X-Upstream $upstream_addr;
    }
--- request
GET /t
--- response_body
over a unix socket
--- response_headers
X-Upstream: unix:$TEST_NGINX_HTML_DIR/peer.sock
--- no_error_log
[error]



=== TEST 5: set_current_peer: the host is the TLS name (SNI) of the try
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local host = ngx.var.arg_host
            assert(require("ngx.balancer").set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1, host))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        location / { return 200 "sni=$ssl_server_name\n"; }
    }
--- config
    location = /p {
        proxy_ssl_server_name on;
        proxy_pass https://backend;
    }
    location = /t {
        content_by_lua_block {
            ngx.print(ngx.location.capture("/p?host=one.test").body)
            ngx.print(ngx.location.capture("/p?host=two.test").body)
            ngx.print(ngx.location.capture("/p").body)
        }
    }
--- request
GET /t
--- response_body
sni=one.test
sni=two.test
sni=backend
--- no_error_log
[error]



=== TEST 6: set_current_peer: addresses that do not parse, with nginx's reasons
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            local cases = {
                { "127.0.0.1:abc" },
                { "127.0.0.1:70000" },
                { "127.0.0.1:0" },
                { "localhost", 80 },
                { "example.com:8080" },
                { "127.0.0.1/path", 80 },
                { ":80" },
                { "" },
                { "[::1", 80 },
            }
            for _, c in ipairs(cases) do
                local ok, err = b.set_current_peer(c[1], c[2])
                ngx.log(ngx.WARN, "'", c[1], "': ", tostring(ok), " ", err)
            end
            local ok, err = pcall(b.set_current_peer, "127.0.0.1", 80, 42)
            ngx.log(ngx.WARN, "host 42: ", err)
            ok, err = pcall(b.set_current_peer, "127.0.0.1", 80, true)
            ngx.log(ngx.WARN, "host true: ", err)
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "still served\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
still served
--- grep_error_log eval: qr/(?:'[^']*'|host \w+): .*?(?= while connecting)/
--- grep_error_log_out eval
qr/\A'127\.0\.0\.1:abc': nil invalid port
'127\.0\.0\.1:70000': nil invalid port
'127\.0\.0\.1:0': nil invalid port
'localhost': nil no host allowed
'example\.com:8080': nil no host allowed
'127\.0\.0\.1\/path': nil invalid host
':80': nil no host
'': nil no host
'\[::1': nil invalid host
host 42: \S*balancer\.lua:\d+: bad argument #3 to 'set_current_peer' \(string expected, got number\)
host true: \S*balancer\.lua:\d+: bad argument #3 to 'set_current_peer' \(string expected, got boolean\)
\z/
--- no_error_log
[error]



=== TEST 7: set_current_peer: the last call of a try wins; a failed call keeps the earlier peer
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            assert(not b.set_current_peer("localhost", $TEST_NGINX_RAND_PORT_1))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { return 200 "$server_port\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
$TEST_NGINX_RAND_PORT_2
--- no_error_log
[error]



=== TEST 8: bind_to_local_addr: the connection comes from the given address (and port)
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(b.bind_to_local_addr(ngx.var.arg_local))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "$remote_addr:$remote_port\n"; }
    }
--- config
    location = /p {
        proxy_pass http://backend;
    }
    location = /t {
        content_by_lua_block {
            ngx.print(ngx.location.capture("/p?local=127.0.0.2").body:match("^[^:]+"), "\n")
            ngx.print(ngx.location.capture("/p?local=127.0.0.3:$TEST_NGINX_RAND_PORT_2").body)
        }
    }
--- request
GET /t
--- response_body
127.0.0.2
127.0.0.3:$TEST_NGINX_RAND_PORT_2
--- no_error_log
[error]



=== TEST 9: bind_to_local_addr: bad addresses
--- http_config
    upstream backend {
        server 0.0.0.1;
        balancer_by_lua_block {
            local b = require "ngx.balancer"
            for _, a in ipairs({ "foo", "127.0.0.1:99999", "" }) do
                local ok, err = b.bind_to_local_addr(a)
                ngx.log(ngx.WARN, "'", a, "': ", tostring(ok), " ", err)
            end
            local ok, err = pcall(b.bind_to_local_addr, 127)
            ngx.log(ngx.WARN, "number: ", err)
            assert(b.set_current_peer("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "from $remote_addr\n"; }
    }
--- config
    location = /t {
        proxy_pass http://backend;
    }
--- request
GET /t
--- response_body
from 127.0.0.1
--- grep_error_log eval: qr/(?:'[^']*'|number): .*?(?= while connecting)/
--- grep_error_log_out eval
qr/\A'foo': nil invalid addr foo
'127\.0\.0\.1:99999': nil invalid addr 127\.0\.0\.1:99999
'': nil invalid addr 
number: \S*balancer\.lua:\d+: bad argument #1 to 'bind_to_local_addr' \(string expected, got number\)
\z/
--- no_error_log
[error]
