# header_filter_by_lua*, body_filter_by_lua*, log_by_lua*.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: header filter changes the status of a Lua response
--- config
    location = /t {
        content_by_lua_block { ngx.say("body") }
        header_filter_by_lua_block { ngx.status = 201 }
    }
--- request
GET /t
--- error_code: 201
--- response_body
body



=== TEST 2: header filter on a static file response
--- config
    location = /t {
        return 200 "static\n";
        header_filter_by_lua_block { ngx.status = 202 }
    }
--- request
GET /t
--- error_code: 202
--- response_body
static



=== TEST 3: output API is disabled in the header filter
--- config
    location = /t {
        return 200 "x\n";
        header_filter_by_lua_block { ngx.say("no") }
    }
--- request
GET /t
--- ignore_response
--- error_log eval
qr/failed to run header_filter_by_lua\*: header_filter_by_lua\(nginx\.conf:\d+\):1: API disabled in the context of header_filter_by_lua\*/



=== TEST 4: ngx.exit in the header filter replaces the response
--- config
    location = /t {
        return 200 "x\n";
        header_filter_by_lua_block { ngx.exit(403) }
    }
--- request
GET /t
--- error_code: 403



=== TEST 5: body filter rewrites chunks
--- config
    location = /t {
        content_by_lua_block { ngx.say("hello") ngx.say("world") }
        body_filter_by_lua_block { ngx.arg[1] = string.upper(ngx.arg[1]) }
    }
--- request
GET /t
--- response_body
HELLO
WORLD



=== TEST 6: body filter sees eof on the last call only
--- config
    location = /t {
        content_by_lua_block { ngx.print("a") ngx.print("b") }
        body_filter_by_lua_block {
            local eof = ngx.arg[2]
            ngx.arg[1] = ngx.arg[1] .. (eof and "[eof]" or "|")
        }
    }
--- request
GET /t
--- response_body chomp
a|b|[eof]



=== TEST 7: ngx.arg[2] = true truncates the response
--- config
    location = /t {
        content_by_lua_block {
            for i = 1, 5 do ngx.say(i) ngx.flush() end
        }
        body_filter_by_lua_block {
            if ngx.arg[1]:find("3") then ngx.arg[2] = true end
        }
    }
--- request
GET /t
--- response_body
1
2
3



=== TEST 8: body filter drops data with ngx.arg[1] = nil
--- config
    location = /t {
        content_by_lua_block { ngx.say("secret") }
        body_filter_by_lua_block {
            if not ngx.arg[2] then ngx.arg[1] = nil end
        }
    }
--- request
GET /t
--- response_body



=== TEST 9: body filter on a static response, table value
--- config
    location = /t {
        return 200 "abc";
        header_filter_by_lua_block { ngx.header.content_length = nil }
        body_filter_by_lua_block {
            if ngx.arg[1] ~= "" then ngx.arg[1] = { "<", ngx.arg[1], ">" } end
        }
    }
--- request
GET /t
--- response_body chomp
<abc>



=== TEST 10: error in body filter is logged
--- config
    location = /t {
        content_by_lua_block { ngx.say("x") }
        body_filter_by_lua_block { error("bf boom") }
    }
--- request
GET /t
--- ignore_response
--- error_log eval
qr/failed to run body_filter_by_lua\*: body_filter_by_lua\(nginx\.conf:\d+\):1: bf boom/



=== TEST 11: log_by_lua sees the final status and ngx.ctx
--- config
    location = /t {
        content_by_lua_block { ngx.ctx.who = "content" ngx.exit(202) }
        log_by_lua_block { ngx.log(ngx.WARN, "log phase: ", ngx.status, " ", ngx.ctx.who, " ", ngx.get_phase()) }
    }
--- request
GET /t
--- error_code: 202
--- error_log
log phase: 202 content log



=== TEST 12: log_by_lua errors are logged, response unaffected
--- config
    location = /t {
        return 200 "fine\n";
        log_by_lua_block { error("log boom") }
    }
--- request
GET /t
--- response_body
fine
--- error_log
failed to run log_by_lua*: log_by_lua(nginx.conf:



=== TEST 13: ngx.sleep is disabled in filters and log
--- config
    location = /t {
        return 200 "x\n";
        log_by_lua_block { ngx.sleep(1) }
    }
--- request
GET /t
--- response_body
x
--- error_log
API disabled in the context of log_by_lua*



=== TEST 14: a body filter keeps the Content-Length it was given
--- config
    location = /t {
        return 200 "same length\n";
        body_filter_by_lua_block { ngx.arg[1] = string.upper(ngx.arg[1]) }
    }
--- request
GET /t
--- response_headers
Content-Length: 12
!Transfer-Encoding
--- response_body
SAME LENGTH



=== TEST 15: clearing Content-Length in a header filter streams a longer body
--- config
    location = /t {
        return 200 "short\n";
        header_filter_by_lua_block { ngx.header.content_length = nil }
        body_filter_by_lua_block {
            if ngx.arg[1] ~= "" then ngx.arg[1] = "much longer: " .. ngx.arg[1] end
        }
    }
--- request
GET /t
--- response_headers
!Content-Length
Transfer-Encoding: chunked
--- response_body
much longer: short



=== TEST 16: body_filter_by_lua sees a static file's data (it runs below nginx's copy filter)
--- user_files
>>> static.txt
hello, static
--- config
    location = /static.txt {
        body_filter_by_lua_block { ngx.arg[1] = string.upper(ngx.arg[1]) }
    }
--- request
GET /static.txt
--- response_body
HELLO, STATIC
--- no_error_log
[error]



=== TEST 17: body filter: ngx.arg[1] reads back what was set; values are flattened
--- config
    location = /t {
        content_by_lua_block { ngx.print("abc") }
        body_filter_by_lua_block {
            if ngx.arg[1] == "" then return end
            local seen = { ngx.arg[1] }
            ngx.arg[1] = ngx.arg[1]
            seen[#seen + 1] = ngx.arg[1]
            ngx.arg[1] = 12.5
            seen[#seen + 1] = ngx.arg[1]
            ngx.arg[1] = { "x", { 1, true, false }, "y" }
            seen[#seen + 1] = ngx.arg[1]
            ngx.arg[1] = table.concat(seen, "|") .. "\n"
        }
    }
--- request
GET /t
--- response_body
abc|abc|12.5|x1truefalsey
--- no_error_log
[error]



=== TEST 18: body filter: a chunk of several buffers reads as one string
--- http_config
    lua_http10_buffering on;
--- config
    location = /t {
        content_by_lua_block {
            ngx.print("one ")
            ngx.print("two ")
            ngx.print("three")
        }
        body_filter_by_lua_block {
            ngx.arg[1] = ngx.arg[1]:reverse()
        }
    }
--- request
GET /t HTTP/1.0
--- response_body: eerht owt eno
--- no_error_log
[error]



=== TEST 19: body filter: bad ngx.arg index and value
--- config
    location = /t {
        return 200 "x\n";
        body_filter_by_lua_block {
            local ok, err = pcall(function() ngx.arg[3] = "x" end)
            local ok2, err2 = pcall(function() ngx.arg[1] = print end)
            ngx.log(ngx.WARN, "index: ", err, ", value: ", err2)
        }
    }
--- request
GET /t
--- response_body
x
--- error_log eval
qr/index: [^,]*:\d+: bad index: 3, value: [^,]*:\d+: bad argument #1 \(string, number, nil, boolean, or array table expected, got function\)/
