# ngx.exec and ngx.redirect.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: exec: from content_by_lua, with args as string and table
--- config
    location = /t {
        content_by_lua_block {
            if ngx.var.arg_t then
                ngx.exec("/target?x=1", { y = "a b" })
            end
            ngx.exec("/target", "q=2")
        }
    }
    location = /target {
        content_by_lua_block { ngx.say(ngx.var.uri, " ", ngx.var.args) }
    }
--- request eval
["GET /t", "GET /t?t=1"]
--- response_body eval
["/target q=2\n", "/target x=1&y=a%20b\n"]
--- no_error_log
[error]



=== TEST 2: exec: code after it does not run
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.exec("/target")
            ngx.log(ngx.ERR, "after exec")
        }
    }
    location = /target {
        return 200 "target\n";
    }
--- request
GET /t
--- response_body
target
--- no_error_log
[error]



=== TEST 3: exec: from access_by_lua, to a static file
--- config
    location = /t {
        access_by_lua_block { ngx.exec("/a.txt") }
    }
--- user_files
>>> a.txt
static
--- request
GET /t
--- response_body
static
--- no_error_log
[error]



=== TEST 4: exec: named location
--- config
    location = /t {
        content_by_lua_block { ngx.exec("@named") }
    }
    location @named {
        content_by_lua_block { ngx.say("named ", ngx.var.uri) }
    }
--- request
GET /t
--- response_body
named /t
--- no_error_log
[error]



=== TEST 5: exec: after a yield (sleep) in content and rewrite
--- config
    location = /t {
        content_by_lua_block {
            ngx.sleep(0.01)
            ngx.exec("/target")
        }
    }
    location = /r {
        rewrite_by_lua_block {
            ngx.sleep(0.01)
            ngx.exec("/target")
        }
    }
    location = /target {
        content_by_lua_block {
            ngx.sleep(0.01)
            ngx.say("target")
        }
    }
--- request eval
["GET /t", "GET /r"]
--- response_body eval
["target\n", "target\n"]
--- no_error_log
[error]



=== TEST 6: exec: the target's rewrite_by_lua runs, ngx.ctx starts empty
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.ctx.foo = 1
            ngx.exec("/target")
        }
    }
    location = /target {
        rewrite_by_lua_block { ngx.ctx.bar = 2 }
        content_by_lua_block { ngx.say(ngx.ctx.foo, " ", ngx.ctx.bar) }
    }
--- request
GET /t
--- response_body
nil 2
--- no_error_log
[error]



=== TEST 7: exec: after the header was sent
--- config
    location = /t {
        content_by_lua_block {
            ngx.send_headers()
            local ok, err = pcall(ngx.exec, "/target")
            ngx.say(err)
        }
    }
--- request
GET /t
--- response_body
attempt to call ngx.exec after sending out response headers



=== TEST 8: exec: bad arguments, unsafe uri, wrong phase
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(select(2, pcall(ngx.exec)))
            ngx.say(select(2, pcall(ngx.exec, "")))
            ngx.say(select(2, pcall(ngx.exec, "/../etc/passwd")))
            ngx.say(select(2, pcall(ngx.exec, "/a", true)))
            ngx.say("done")
        }
        header_filter_by_lua_block {
            local ok, err = pcall(ngx.exec, "/x")
            ngx.log(ngx.WARN, "hf: ", err)
        }
    }
--- request
GET /t
--- response_body
expecting one or two arguments, but got 0
The uri argument is empty
unsafe uri
bad argument #2 to 'exec' (string, number, or table expected, got boolean)
done
--- error_log
hf: API disabled in the context of header_filter_by_lua*



=== TEST 9: exec: redirect cycle gives 500
--- config
    location = /t {
        content_by_lua_block { ngx.exec("/t") }
    }
--- request
GET /t
--- error_code: 500
--- error_log
rewrite or internal redirection cycle



=== TEST 10: redirect: default 302 with Location
--- config
    location = /t {
        content_by_lua_block {
            ngx.redirect("http://example.com/foo")
            ngx.log(ngx.ERR, "not reached")
        }
    }
--- request
GET /t
--- error_code: 302
--- response_headers
Location: http://example.com/foo
--- no_error_log
[error]



=== TEST 11: redirect: allowed statuses from rewrite and access
--- config
    location = /t {
        rewrite_by_lua_block {
            ngx.redirect("/new", tonumber(ngx.var.arg_s))
        }
    }
    location = /a {
        access_by_lua_block { ngx.redirect("http://h/x", 301) }
    }
--- request eval
["GET /t?s=301", "GET /t?s=303", "GET /t?s=307", "GET /t?s=308", "GET /a"]
--- error_code eval
[301, 303, 307, 308, 301]
--- response_headers_like eval
["Location: .*/new", "Location: .*/new", "Location: .*/new", "Location: .*/new", "Location: http://h/x"]
--- no_error_log
[error]



=== TEST 12: redirect: bad status, CR/LF in uri, after headers sent
--- config
    location = /t {
        content_by_lua_block {
            local e1 = select(2, pcall(ngx.redirect, "/a", 200))
            local e2 = select(2, pcall(ngx.redirect, "/a\r\nX-Evil: 1"))
            ngx.say(e1)
            ngx.say(e2)
            ngx.say(select(2, pcall(ngx.redirect, "/a")))
        }
    }
--- request
GET /t
--- response_body
only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, ngx.HTTP_PERMANENT_REDIRECT, ngx.HTTP_SEE_OTHER, and ngx.HTTP_TEMPORARY_REDIRECT are allowed
unsafe byte "0x0d" in redirect uri "/a\x0D\x0AX-Evil: 1"
attempt to call ngx.redirect after sending out the headers
--- no_error_log
[error]
