# Passing self-tests of the harness, using only core nginx directives.
use Test::Nginx::Socket;

repeat_each(2);

plan tests => repeat_each() * (blocks() * 2 + 4);

no_long_string();
run_tests();

__DATA__

=== TEST 1: plain return
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello



=== TEST 2: error_code and response_body_like
--- config
    location = /t {
        return 404;
    }
--- request
GET /t
--- error_code: 404
--- response_body_like: 404 Not Found



=== TEST 3: headers
--- config
    location = /t {
        add_header X-Foo bar;
        add_header X-Port $server_port;
        return 200 "ok";
    }
--- request
GET /t
--- response_headers
X-Foo: bar
!X-Missing
X-Port: $TEST_NGINX_SERVER_PORT
--- response_body chomp
ok



=== TEST 4: POST body echoed via error_page-free return
--- config
    location = /t {
        client_body_buffer_size 1k;
        return 200 "len=$content_length\n";
    }
--- request
POST /t
hello world
--- response_body
len=11
--- no_error_log
[error]
