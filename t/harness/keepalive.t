# Passing self-test: the client stops reading once the response is complete,
# even when nginx keeps the connection open (keep-alive), for
# Content-Length and chunked bodies.
use Test::Nginx::Socket;
plan tests => 8;
run_tests();
__DATA__

=== TEST 1: keep-alive with Content-Length
--- config
    location = /t { return 200 "ka\n"; }
--- more_headers
Connection: keep-alive
--- request
GET /t
--- timeout: 2
--- response_body
ka



=== TEST 2: keep-alive with a chunked body from upstream
--- config
    location = /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        proxy_http_version 1.1;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
--- more_headers
Connection: keep-alive
--- request
GET /t
--- timeout: 2
--- response_body chomp
abc



=== TEST 3: a body sent in a POST with keep-alive
--- config
    location = /t { return 200 "len=$content_length\n"; }
--- more_headers
Connection: keep-alive
--- request
POST /t
abcdef
--- timeout: 2
--- response_body
len=6



=== TEST 4: a request sent as packets with delays
--- config
    location = /t { return 200 "got=$content_length\n"; }
--- request eval
[["POST /t\nhello", {value => " world", delay_before => 0.2}]]
--- response_body
got=11
