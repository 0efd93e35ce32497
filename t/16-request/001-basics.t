# ngx.req: method, version, start time, internal flag, raw header.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: get_method: GET and POST
--- config
    location = /t {
        content_by_lua_block { ngx.say(ngx.req.get_method()) }
    }
--- request eval
["GET /t", "POST /t\nhello"]
--- response_body eval
["GET\n", "POST\n"]
--- no_error_log
[error]



=== TEST 2: set_method: changes the method nginx and Lua see
--- config
    location = /t {
        rewrite_by_lua_block { ngx.req.set_method(ngx.HTTP_PUT) }
        content_by_lua_block {
            ngx.say(ngx.req.get_method(), " ", ngx.var.request_method)
            ngx.req.set_method(ngx.HTTP_OPTIONS)
            ngx.say(ngx.req.get_method())
        }
    }
--- request
GET /t
--- response_body
PUT PUT
OPTIONS
--- no_error_log
[error]



=== TEST 3: set_method: unsupported method and bad argument type
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.req.set_method, 12345)))
            ngx.say(select(2, pcall(ngx.req.set_method, "GET")))
        }
    }
--- request
GET /t
--- response_body
unsupported HTTP method: 12345
bad argument #1 to 'set_method' (number expected, got string)
--- no_error_log
[error]



=== TEST 4: set_method: disabled in body_filter_by_lua
--- config
    location = /t {
        content_by_lua_block { ngx.say("x") }
        body_filter_by_lua_block {
            local ok, err = pcall(ngx.req.set_method, ngx.HTTP_POST)
            if not ok then ngx.log(ngx.WARN, "set_method: ", err) end
        }
    }
--- request
GET /t
--- response_body
x
--- error_log
set_method: API disabled in the context of body_filter_by_lua*



=== TEST 5: http_version: 1.1 and 1.0
--- config
    location = /t {
        content_by_lua_block { ngx.say(ngx.req.http_version()) }
    }
--- request eval
["GET /t", "GET /t HTTP/1.0"]
--- response_body eval
["1.1\n", "1\n"]



=== TEST 6: start_time: close to ngx.now, with milliseconds
--- config
    location = /t {
        content_by_lua_block {
            local t = ngx.req.start_time()
            ngx.say(type(t), " ", math.abs(ngx.now() - t) < 1)
        }
    }
--- request
GET /t
--- response_body
number true



=== TEST 7: is_internal: false, then true after ngx.exec
--- config
    location = /t {
        content_by_lua_block {
            ngx.say("t: ", ngx.req.is_internal())
            ngx.exec("/in")
        }
    }
    location = /in {
        content_by_lua_block { ngx.say("in: ", ngx.req.is_internal()) }
    }
--- request
GET /in
--- response_body
in: false



=== TEST 8: is_internal: true in an exec target
--- config
    location = /t {
        rewrite_by_lua_block { ngx.exec("/in") }
    }
    location = /in {
        content_by_lua_block { ngx.say("in: ", ngx.req.is_internal()) }
    }
--- request
GET /t
--- response_body
in: true
--- no_error_log
[error]



=== TEST 9: raw_header: request line and headers as sent
--- config
    location = /t {
        content_by_lua_block {
            ngx.print(ngx.req.raw_header())
            ngx.print("--\n", ngx.req.raw_header(true))
        }
    }
--- raw_request eval
"GET /t?a=1 HTTP/1.1\r\nHost: localhost\r\nX-Foo:  bar baz\r\nConnection: close\r\n\r\n"
--- response_body eval
"GET /t?a=1 HTTP/1.1\r\nHost: localhost\r\nX-Foo:  bar baz\r\nConnection: close\r\n\r\n--\nHost: localhost\r\nX-Foo:  bar baz\r\nConnection: close\r\n\r\n"
--- no_error_log
[error]



=== TEST 10: raw_header: unaffected by set_header, LF-only lines kept
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.set_header("X-New", "1")
            ngx.req.clear_header("X-Foo")
            ngx.print(ngx.req.raw_header())
        }
    }
--- raw_request eval
"GET /t HTTP/1.0\nX-Foo: a\nHost: h\n\n"
--- response_body eval
"GET /t HTTP/1.0\nX-Foo: a\nHost: h\n\n"
--- no_error_log
[error]



=== TEST 11: raw_header: headers spread over large header buffers
--- config
    client_header_buffer_size 128;
    large_client_header_buffers 4 1k;
    location = /t {
        content_by_lua_block {
            local h = ngx.req.raw_header()
            local want = "GET /t HTTP/1.1\r\nHost: localhost\r\nX-A: "
                .. string.rep("a", 100) .. "\r\nX-B: " .. string.rep("b", 100)
                .. "\r\nConnection: close\r\n\r\n"
            ngx.say(#h, " ", h == want)
            if h ~= want then ngx.say(h) end
        }
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\nX-A: " . ("a" x 100) . "\r\nX-B: " . ("b" x 100) . "\r\nConnection: close\r\n\r\n"
--- response_body
269 true
--- no_error_log
[error]



=== TEST 12: raw_header: an LF-only header spread over large header buffers comes back byte for byte (its last line too), with and without the request line
--- config
    client_header_buffer_size 128;
    large_client_header_buffers 4 1k;
    location = /t {
        content_by_lua_block {
            local lines = { "Host: localhost" }
            for i = 1, 40 do
                lines[#lines + 1] = "X-" .. i .. ": " .. string.rep("v", 20)
            end
            lines[#lines + 1] = "Connection: close"
            local head = table.concat(lines, "\n") .. "\n\n"
            local want = "GET /t HTTP/1.1\n" .. head
            local h = ngx.req.raw_header()
            ngx.say(#h, " ", h == want, " ", ngx.req.raw_header(true) == head)
            if h ~= want then ngx.say((h:gsub("\r", "\\r"))) end
        }
    }
--- raw_request eval
"GET /t HTTP/1.1\nHost: localhost\n" . (join "", map { "X-$_: " . ("v" x 20) . "\n" } 1..40) . "Connection: close\n\n"
--- response_body
1122 true true
--- no_error_log
[error]



=== TEST 13: raw_header: works in log_by_lua, disabled in body_filter_by_lua
--- config
    location = /t {
        content_by_lua_block { ngx.say("ok") }
        body_filter_by_lua_block {
            local ok, err = pcall(ngx.req.raw_header)
            if not ok then ngx.log(ngx.WARN, "bf: ", err) end
        }
        log_by_lua_block {
            ngx.log(ngx.WARN, "log: ", #ngx.req.raw_header(true) > 0)
        }
    }
--- request
GET /t
--- response_body
ok
--- error_log
bf: API disabled in the context of body_filter_by_lua*
log: true



=== TEST 14: ngx.req: holds exactly upstream's 23 functions (no helper of ours leaks into it)
--- config
    location = /t {
        content_by_lua_block {
            local names = {}
            for k in pairs(ngx.req) do
                names[#names + 1] = k
            end
            table.sort(names)
            ngx.say(#names)
            ngx.say(table.concat(names, " "))
        }
    }
--- request
GET /t
--- response_body
23
append_body clear_header discard_body finish_body get_body_data get_body_file get_headers get_method get_post_args get_uri_args http_version init_body is_internal raw_header read_body set_body_data set_body_file set_header set_method set_uri set_uri_args socket start_time
--- no_error_log
[error]
