# ngx.location.capture*: large response bodies (from Lua, from proxy_pass
# through nginx's temp files, from static files), forwarded request bodies
# (in memory and in temp files), and HTTP/1.0 clients.
use Test::Nginx::Socket::Lua;
use Digest::MD5 ();

repeat_each(2);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: capture: a 1 MB body produced by Lua in many pieces
--- config
    location = /big {
        content_by_lua_block {
            local piece = string.rep("0123456789abcdef", 64)
            for i = 1, 1024 do
                ngx.print(piece)
                if i % 100 == 0 then ngx.flush(true) end
            end
        }
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/big")
            ngx.say(res.status, " ", #res.body, " ", res.truncated, " ",
                    ngx.md5(res.body) == ngx.md5(string.rep("0123456789abcdef", 65536)))
        }
    }
--- request
GET /t
--- response_body
200 1048576 false true
--- no_error_log
[error]



=== TEST 2: capture_multi: three 1 MB bodies through proxy_pass, buffered to temp files and not buffered
--- mockeagain_max: 256
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            content_by_lua_block {
                ngx.header.content_length = 1048576
                ngx.print(string.rep(ngx.var.arg_c or "x", 1048576))
            }
        }
    }
--- config
    location /buffered/ {
        proxy_buffering on;
        proxy_buffers 4 4k;
        proxy_buffer_size 4k;
        proxy_busy_buffers_size 8k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
    location /unbuffered/ {
        proxy_buffering off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
    location = /t {
        content_by_lua_block {
            local a, b, c = ngx.location.capture_multi{
                { "/buffered/", { args = "c=a" } },
                { "/unbuffered/", { args = "c=b" } },
                { "/buffered/", { args = "c=c" } },
            }
            for _, r in ipairs({a, b, c}) do
                ngx.say(r.status, " ", #r.body, " ", r.truncated, " ",
                        r.body:sub(1, 3), " ", r.header["Content-Length"])
            end
            ngx.say(a.body == string.rep("a", 1048576), " ",
                    b.body == string.rep("b", 1048576), " ",
                    c.body == string.rep("c", 1048576))
        }
    }
--- request
GET /t
--- response_body
200 1048576 false aaa 1048576
200 1048576 false bbb 1048576
200 1048576 false ccc 1048576
true true true
--- error_log
an upstream response is buffered to a temporary file
--- no_error_log
[error]



=== TEST 3: capture: a 1 MB static file
--- user_files eval
">>> big.txt\n" . ("y" x 1048576)
--- config
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/big.txt")
            ngx.say(res.status, " ", #res.body, " ", res.truncated, " ",
                    res.header["Content-Length"], " ",
                    res.body == string.rep("y", 1048576))
        }
    }
--- request
GET /t
--- response_body
200 1048576 false 1048576 true
--- no_error_log
[error]



=== TEST 4: capture: the parent can send a captured 1 MB body on
--- mockeagain_max: 256
--- config
    location = /big {
        content_by_lua_block { ngx.print(string.rep("z", 1048576)) }
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/big")
            ngx.print(res.body)
        }
    }
--- request
GET /t
--- response_body eval
"z" x 1048576
--- no_error_log
[error]



=== TEST 5: capture: the parent's request body, read into memory, goes to two POST subrequests through proxy_pass
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            content_by_lua_block {
                ngx.req.read_body()
                ngx.say(ngx.var.http_content_length, ": ", ngx.req.get_body_data())
            }
        }
    }
--- config
    location /back/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            for i = 1, 2 do
                ngx.print(ngx.location.capture("/back/", { method = ngx.HTTP_POST }).body)
            end
        }
    }
--- request
POST /t
hello world
--- response_body
11: hello world
11: hello world
--- no_error_log
[error]



=== TEST 6: capture: a request body in a temp file is forwarded to each subrequest
--- mockeagain_max: 256
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        client_max_body_size 10m;
        location / {
            client_body_buffer_size 1m;
            content_by_lua_block {
                ngx.req.read_body()
                local body = ngx.req.get_body_data()
                ngx.say(ngx.req.get_method(), " ", #body, " ", ngx.md5(body))
            }
        }
    }
--- config
    location /back/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    location = /t {
        client_body_buffer_size 1k;
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say("in file: ", ngx.req.get_body_file() ~= nil)
            for _, m in ipairs({"POST", "PUT"}) do
                ngx.print(ngx.location.capture("/back/", { method = ngx["HTTP_" .. m] }).body)
            end
            ngx.print(ngx.location.capture("/back/",
                { method = ngx.HTTP_PATCH, always_forward_body = true }).body)
        }
    }
--- request eval
"POST /t\n" . ("hello world" x 10000)
--- response_body eval
my $md5 = Digest::MD5::md5_hex("hello world" x 10000);
"in file: true\nPOST 110000 $md5\nPUT 110000 $md5\nPATCH 110000 $md5\n"
--- no_error_log
[error]



=== TEST 7: capture: a chunked request body is forwarded with a Content-Length of its own
--- config
    location = /sub {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.var.http_content_length, " ", ngx.var.http_transfer_encoding,
                    " ", ngx.req.get_body_data())
        }
    }
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.print(ngx.location.capture("/sub", { method = ngx.HTTP_POST }).body)
        }
    }
--- raw_request eval
"POST /t HTTP/1.1\r
Host: localhost\r
Transfer-Encoding: chunked\r
Connection: close\r
\r
5\r
hello\r
6\r
 world\r
0\r
\r
"
--- response_body
11 chunked hello world
--- no_error_log
[error]



=== TEST 8: capture: an HTTP/1.0 client gets the response built from subrequests
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { content_by_lua_block { ngx.say("proxied ", ngx.req.http_version()) } }
    }
--- config
    location /back/ { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    location = /sub { content_by_lua_block { ngx.say("sub ", ngx.req.http_version()) } }
    location = /t {
        content_by_lua_block {
            local a, b = ngx.location.capture_multi{ {"/sub"}, {"/back/"} }
            ngx.print(a.body, b.body)
            ngx.say("main ", ngx.req.http_version())
        }
    }
--- request
GET /t HTTP/1.0
--- response_body
sub 1
proxied 1
main 1
--- no_error_log
[error]
