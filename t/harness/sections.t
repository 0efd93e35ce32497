# Passing self-tests: many sections of the Test::Nginx format (core nginx only).
use Test::Nginx::Socket;

our $Greeting = "howdy";

repeat_each(1);

plan tests => repeat_each() * 47;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: error_log positive: a missing file logs open() failed
--- config
    location /missing {
        root html;
    }
--- request
GET /missing/nope.html
--- error_code: 404
--- error_log
open()
No such file or directory
--- no_error_log
[alert]



=== TEST 2: error_log eval with a regex and an array
--- config
    location /missing {
        root html;
    }
--- request
GET /missing/nope.html
--- error_code: 404
--- error_log eval
[qr/open\(\) "[^"]+nope\.html" failed/, "(2: No such file"]
--- no_error_log eval
qr/\[emerg\]/



=== TEST 3: grep_error_log
--- config
    location /missing {
        root html;
    }
--- request
GET /missing/a.html
--- error_code: 404
--- grep_error_log eval
qr/open\(\) "[^"]+" failed/
--- grep_error_log_out eval
qr{^open\(\) "[^"]+/html/missing/a\.html" failed\n\z}



=== TEST 4: request eval array, response_body and error_code arrays
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 403; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 403]
--- response_body_like eval
["^A\$", "403 Forbidden"]



=== TEST 5: more_headers and HTTP/1.0
--- config
    location = /t {
        return 200 "foo=$http_x_foo proto=$server_protocol\n";
    }
--- more_headers
X-Foo: bar
--- request
GET /t HTTP/1.0
--- response_body
foo=bar proto=HTTP/1.0



=== TEST 6: raw_request
--- config
    location = /t { return 200 "raw\n"; }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body
raw



=== TEST 7: pipelined_requests
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 200 "B\n"; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["A\n", "B\n"]



=== TEST 8: rewrite, redirect and response_headers_like / raw headers
--- config
    location = /old { rewrite ^ /new redirect; }
--- request
GET /old
--- error_code: 302
--- response_headers_like
Location: http://localhost(:\d+)?/new
--- raw_response_headers_like: Location: http
--- raw_response_headers_unlike: X-Never-There



=== TEST 9: user_files served from html dir, env var expansion
--- config
    location /static/ {
        root $TEST_NGINX_HTML_DIR;
    }
--- user_files
>>> static/a.txt
file contents
--- request
GET /static/a.txt
--- response_body
file contents



=== TEST 10: config eval with $::Var interpolation, chomp filter
--- config eval
"location = /t { return 200 '$::Greeting'; }"
--- request
GET /t
--- response_body chomp
howdy



=== TEST 11: log_level section
--- log_level: warn
--- config
    location = /t { return 200 "x"; }
--- request
GET /t
--- response_body: x
--- no_error_log
[notice]
[info]



=== TEST 12: error_page
--- config
    location = /t { return 404; }
    error_page 404 = /fallback;
    location = /fallback { return 200 "fallback\n"; }
--- request
GET /t
--- response_body
fallback



=== TEST 13: must_die on a bad directive
--- config
    location = /t { no_such_directive_here on; }
--- must_die
--- error_log
unknown directive "no_such_directive_here"



=== TEST 14: shutdown_error_log and wait
--- config
    location = /t { return 200 "bye\n"; }
--- request
GET /t
--- wait: 0.1
--- response_body
bye
--- shutdown_error_log
(SIGQUIT) received



=== TEST 15: skipped block does not run
--- SKIP
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never



=== TEST 16: access_log / no_access_log, response_body_json_sort
--- config
    location = /t {
        default_type application/json;
        return 200 '{"b": 2, "a": 1}';
    }
--- request
GET /t?x=marker
--- response_body_json_sort
--- response_body
{"a":1,"b":2}
--- access_log
GET /t?x=marker
--- no_access_log
GET /nothing



=== TEST 17: an interim "100 Continue" is what error_code sees, the rest is the body, as Test::Nginx's HTTP::Response parsing gives them
--- config
    location = /expect {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }
    location = /ok {
        return 200 "proxied\n";
    }
--- request
POST /expect
hello
--- more_headers
Expect: 100-continue
--- error_code: 100
--- response_body_like
^HTTP/1\.1 200 OK\r\n.*\r\n\r\nproxied$
