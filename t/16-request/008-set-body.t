# get_body_data(max_bytes), set_body_file, init_body/append_body/finish_body.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: get_body_data(max_bytes): a prefix, the whole body, and bad arguments
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            local get = ngx.req.get_body_data
            ngx.say(get(3), "|", get(100), "|", get(0), "|", get(-5), "|", get("4"), "|", get(2.9))
            ngx.say(select(2, pcall(get, "x")))
            ngx.say(select(2, pcall(get, nil)))
            ngx.say(select(2, pcall(get, 1, 2)))
        }
    }
--- request
POST /t
hello world
--- response_body
hel|hello world|hello world|hello world|hell|he
bad argument #1 to 'get_body_data' (number expected, got string)
bad argument #1 to 'get_body_data' (number expected, got nil)
expecting 0 or 1 arguments but seen 2
--- no_error_log
[error]



=== TEST 2: get_body_data(max_bytes) in log_by_lua
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data(2))
        }
        log_by_lua_block {
            ngx.log(ngx.WARN, "log phase: ", ngx.req.get_body_data(2))
        }
    }
--- request
POST /t
abcdef
--- response_body
ab
--- error_log
log phase: ab



=== TEST 3: get_body_data(max_bytes) is nil for a body in a temp file
--- config
    client_body_buffer_size 1k;
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_body_data(2), " ", ngx.req.get_body_file() ~= nil)
        }
    }
--- request eval
"POST /t\n" . ("x" x 3000)
--- response_body
nil true
--- no_error_log
[error]



=== TEST 4: set_body_file: the file becomes the body proxied upstream, with its length
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.read_body()
            local path = ngx.config.prefix() .. "html/body.txt"
            ngx.req.set_body_file(path)
            ngx.ctx.file = ngx.req.get_body_file() == path
            ngx.ctx.data = ngx.req.get_body_data()
        }
        content_by_lua_block {
            ngx.say(ngx.ctx.file, " ", ngx.ctx.data, " ", ngx.var.http_content_length)
        }
    }
    location = /p {
        rewrite_by_lua_block {
            ngx.req.read_body()
            ngx.req.set_body_file(ngx.config.prefix() .. "html/body.txt")
        }
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.var.http_content_length, " [", ngx.req.get_body_data(), "]")
        }
    }
--- user_files
>>> body.txt
file body
--- request eval
["POST /t\noriginal body", "POST /p\noriginal body"]
--- response_body eval
["true nil 10\n", "10 [file body\n]\n"]
--- no_error_log
[error]



=== TEST 5: set_body_file: auto_clean deletes the file when the request ends; without it the file stays
--- config
    location = /t {
        content_by_lua_block {
            local prefix = ngx.config.prefix() .. "html/"
            for _, name in ipairs({ "keep.txt", "clean.txt" }) do
                local f = io.open(prefix .. name, "w")
                f:write("data")
                f:close()
            end
            ngx.req.read_body()
            ngx.req.set_body_file(prefix .. "keep.txt")
            ngx.req.set_body_file(prefix .. "clean.txt", true)
            ngx.say(ngx.req.get_body_file())
        }
    }
    location = /check {
        content_by_lua_block {
            local prefix = ngx.config.prefix() .. "html/"
            ngx.say(io.open(prefix .. "keep.txt") ~= nil, " ", io.open(prefix .. "clean.txt") ~= nil)
        }
    }
--- request eval
["POST /t\nx", "GET /check"]
--- response_body_like eval
[qr{html/clean\.txt$}, "^true false\n"]
--- no_error_log
[error]



=== TEST 6: set_body_file: an empty file gives an empty body with Content-Length 0
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.read_body()
            ngx.req.set_body_file(ngx.config.prefix() .. "html/empty.txt", true)
        }
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.var.http_content_length, " [", ngx.req.get_body_data(), "]")
        }
    }
--- user_files
>>> empty.txt
--- request
POST /t
some body
--- response_body
0 [nil]
--- no_error_log
[error]



=== TEST 7: set_body_file: errors
--- config
    location = /t {
        content_by_lua_block {
            local function try(...)
                local ok, err = pcall(ngx.req.set_body_file, ...)
                ngx.say(err)
            end
            try("/tmp/x")
            ngx.req.read_body()
            try("/nonexistent/file")
            try(ngx.config.prefix() .. "html")
            try(nil)
            try("/tmp/x", "yes")
            try()
            try("/tmp/x", true, 1)
        }
    }
--- request
POST /t
body
--- response_body_like eval
qr{^request body not read yet
stat\(\) "/nonexistent/file" failed
open\(\) ".*/html" failed
bad argument #1 to 'set_body_file' \(string expected, got nil\)
bad argument #2 to 'set_body_file' \(boolean expected, got string\)
expecting 1 or 2 arguments but seen 0
expecting 1 or 2 arguments but seen 3
$}
--- no_error_log
[error]



=== TEST 8: init_body/append_body/finish_body: a small body stays in memory and is proxied with its length
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.req.read_body()
            ngx.req.init_body()
            ngx.req.append_body("hello ")
            ngx.req.append_body("world")
            ngx.req.append_body(42)
            ngx.req.finish_body()
            ngx.ctx.data = ngx.req.get_body_data()
            ngx.ctx.file = ngx.req.get_body_file()
        }
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.var.http_content_length, " [", ngx.req.get_body_data(), "]")
        }
    }
    location = /local {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.req.init_body()
            ngx.req.append_body("abc")
            ngx.req.finish_body()
            ngx.say(ngx.req.get_body_data(), " ", ngx.req.get_body_file(), " ", ngx.var.http_content_length)
        }
    }
--- request eval
["POST /t\noriginal", "POST /local\noriginal"]
--- response_body eval
["13 [hello world42]\n", "abc nil 3\n"]
--- no_error_log
[error]



=== TEST 9: init_body(size): a body larger than the buffer spills to a temp file in client_body_temp_path
--- config
    client_body_temp_path body_tmp;
    location = /t {
        rewrite_by_lua_block {
            ngx.req.read_body()
            ngx.req.init_body(8)
            for i = 1, 10 do
                ngx.req.append_body(string.rep(tostring(i % 10), 10))
            end
            ngx.req.finish_body()
            local f = ngx.req.get_body_file()
            local fh = io.open(f)
            local data = fh:read("*a")
            fh:close()
            ngx.log(ngx.WARN, "data: ", ngx.req.get_body_data(), " file: ", f:match("body_tmp/") ~= nil, " ", #data, " ", data:sub(1, 12), " ", data:sub(-4))
        }
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back {
        content_by_lua_block {
            ngx.req.read_body()
            local data = ngx.req.get_body_data()
            ngx.say(ngx.var.http_content_length, " ", #data, " ", data:sub(1, 12), " ", data:sub(-4))
        }
    }
--- request
POST /t
original
--- response_body
100 100 111111111122 0000
--- error_log eval
[qr/a client request body is buffered to a temporary file .*body_tmp\//,
"data: nil file: true 100 111111111122 0000"]
--- no_error_log
[error]



=== TEST 10: init_body() uses client_body_buffer_size, init_body(0) writes straight to the file
--- config
    client_body_buffer_size 16;
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            local out = {}
            for _, size in ipairs({ "default", 0 }) do
                if size == "default" then ngx.req.init_body() else ngx.req.init_body(size) end
                ngx.req.append_body("0123456789")
                local in_file = ngx.req.get_body_file() ~= nil
                ngx.req.append_body("0123456789")
                ngx.req.finish_body()
                local f = ngx.req.get_body_file()
                local fh = io.open(f)
                out[#out + 1] = size .. ": " .. tostring(in_file) .. " " .. fh:read("*a") .. " " .. ngx.var.http_content_length
                fh:close()
            end
            ngx.say(table.concat(out, "\n"))
        }
    }
--- request
POST /t
x
--- response_body
default: false 01234567890123456789 20
0: true 01234567890123456789 20



=== TEST 11: init_body replaces a body read into a temp file, and removes that file
--- config
    client_body_buffer_size 1k;
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            local old = ngx.req.get_body_file()
            ngx.req.init_body()
            ngx.req.append_body("new")
            ngx.req.finish_body()
            ngx.say(old ~= nil, " ", io.open(old) == nil, " ", ngx.req.get_body_data(), " ", ngx.req.get_body_file())
        }
    }
--- request eval
"POST /t\n" . ("x" x 3000)
--- response_body
true true new nil
--- no_error_log
[error]



=== TEST 12: set_body_data replaces a body read into a temp file, and removes that file
--- config
    client_body_buffer_size 1k;
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            local old = ngx.req.get_body_file()
            ngx.req.set_body_data("small")
            ngx.say(old ~= nil, " ", io.open(old) == nil, " ", ngx.req.get_body_data(), " ", ngx.req.get_body_file(), " ", ngx.var.http_content_length)
            ngx.req.set_body_data("")
            ngx.say(ngx.req.get_body_data(), " ", ngx.var.http_content_length)
        }
    }
--- request eval
"POST /t\n" . ("x" x 3000)
--- response_body
true true small nil 5
nil 0
--- no_error_log
[error]



=== TEST 13: init_body/append_body/finish_body: errors
--- no_mockeagain
--- config
    location = /t {
        content_by_lua_block {
            local out = {}
            local function try(f, ...)
                local ok, err = pcall(f, ...)
                out[#out + 1] = tostring(err)
            end
            try(ngx.req.init_body)
            try(ngx.req.append_body, "x")
            try(ngx.req.finish_body)
            ngx.req.read_body()
            try(ngx.req.append_body, "x")
            try(ngx.req.finish_body)
            try(ngx.req.init_body, -1)
            try(ngx.req.init_body, "big")
            try(ngx.req.init_body, 1, 2)
            try(ngx.req.append_body)
            try(ngx.req.append_body, {})
            try(ngx.req.finish_body, 1)
            ngx.req.init_body(4)
            try(ngx.req.append_body, "ok")
            try(ngx.req.finish_body)
            out[#out + 1] = ngx.req.get_body_data()
            ngx.say(table.concat(out, "\n"))
        }
    }
--- request
POST /t
body
--- response_body
request body not read yet
request_body not initialized
request_body not initialized
request_body not initialized
request_body not initialized
bad size argument: -1
bad argument #1 to 'init_body' (number expected, got string)
expecting 0 or 1 argument but seen 2
expecting 1 arguments but seen 0
bad argument #1 to 'append_body' (string expected, got table)
expecting 0 argument but seen 1
nil
nil
ok
--- no_error_log
[error]



=== TEST 14: body replacement is refused after an asynchronous discard
--- config
    location = /t {
        content_by_lua_block {
            ngx.req.discard_body()
            local out = {}
            for _, call in ipairs({ { ngx.req.set_body_data, "x" }, { ngx.req.set_body_file, "/x" }, { ngx.req.init_body } }) do
                local ok, err = pcall(unpack(call))
                out[#out + 1] = err
            end
            ngx.say(table.concat(out, "\n"))
        }
    }
--- raw_request eval
["POST /t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello", "world"]
--- raw_request_middle_delay: 0.1
--- response_body
request body already discarded asynchronously
request body already discarded asynchronously
request body already discarded asynchronously
