# Passing self-tests: tcp_listen / udp_listen fake servers, chunked bodies,
# timeout + abort (core nginx only).
use Test::Nginx::Socket;

repeat_each(2);

plan tests => repeat_each() * 12;

run_tests();

__DATA__

=== TEST 1: proxy_pass to a fake TCP server; tcp_query checked
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/up;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 6\r\nX-Up: yes\r\n\r\nfrom\n"
--- request
GET /t
--- response_headers
X-Up: yes
--- response_body
from
--- tcp_query_len: 62



=== TEST 2: chunked response body from upstream is decoded
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        proxy_http_version 1.1;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n7\r\n world\n\r\n0\r\n\r\n"
--- tcp_query eval
qr{^GET /t HTTP/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n}
--- request
GET /t
--- response_headers
Transfer-Encoding: chunked
--- response_body
hello world



=== TEST 3: a hung upstream with --- abort and --- timeout does not fail
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        proxy_read_timeout 30s;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_no_close
--- request
GET /t
--- timeout: 300ms
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 4: udp_listen: nginx resolver sends a DNS query to the fake server
--- config
    resolver 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
    resolver_timeout 1s;
    location = /t {
        set $h some-name.example;
        proxy_pass http://$h;
    }
--- udp_listen: $TEST_NGINX_RAND_PORT_4
--- udp_reply: garbage
--- udp_query eval
qr/some-name\x07example/
--- request
GET /t
--- error_code: 502
--- error_log
could not be resolved
