# ngx.location.capture: the response table and every option.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: capture: status, body, headers and truncated of a Lua location
--- config
    location = /sub {
        content_by_lua_block {
            ngx.status = 202
            ngx.header["X-Sub"] = "yes"
            ngx.say("sub says hi, subrequest: ", ngx.is_subrequest)
        }
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/sub")
            ngx.say("status: ", res.status)
            ngx.say("body: ", res.body)
            ngx.say("truncated: ", res.truncated)
            ngx.say("X-Sub: ", res.header["X-Sub"])
            ngx.say("Content-Type: ", res.header["Content-Type"])
            ngx.say("main is subrequest: ", ngx.is_subrequest)
            ngx.log(ngx.WARN, "main resumed")
        }
    }
--- request
GET /t
--- response_body
status: 202
body: sub says hi, subrequest: true

truncated: false
X-Sub: yes
Content-Type: text/plain
main is subrequest: false
--- error_log eval
qr/main resumed, client: [^,]+, server: [^,]+, request: "GET \/t HTTP\/1.1", host/
--- no_error_log
[error]



=== TEST 2: capture: a multi-value response header is a table, in order
--- config
    location = /sub {
        content_by_lua_block {
            ngx.header["Set-Cookie"] = {"a=3", "foo=bar", "baz=blah"}
            ngx.header["X-One"] = "1"
        }
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/sub")
            local c = res.header["Set-Cookie"]
            ngx.say(type(c), ": ", table.concat(c, ", "))
            ngx.say(type(res.header["X-One"]), ": ", res.header["X-One"])
            ngx.say("body: [", res.body, "]")
        }
    }
--- request
GET /t
--- response_body
table: a=3, foo=bar, baz=blah
string: 1
body: []
--- no_error_log
[error]



=== TEST 3: capture: every ngx.HTTP_* method reaches the subrequest
--- config
    location = /sub {
        content_by_lua_block {
            ngx.header["X-Method"] = ngx.req.get_method()
            ngx.print("m")
        }
    }
    location = /t {
        content_by_lua_block {
            local names = {"GET", "HEAD", "POST", "PUT", "DELETE", "MKCOL",
                           "COPY", "MOVE", "OPTIONS", "PROPFIND", "PROPPATCH",
                           "LOCK", "UNLOCK", "PATCH", "TRACE"}
            for _, name in ipairs(names) do
                local res = ngx.location.capture("/sub",
                                                 { method = ngx["HTTP_" .. name] })
                ngx.say(name, ": ", res.header["X-Method"], " [", res.body, "]")
            end
        }
    }
--- request
GET /t
--- response_body
GET: GET [m]
HEAD: HEAD []
POST: POST [m]
PUT: PUT [m]
DELETE: DELETE [m]
MKCOL: MKCOL [m]
COPY: COPY [m]
MOVE: MOVE [m]
OPTIONS: OPTIONS [m]
PROPFIND: PROPFIND [m]
PROPPATCH: PROPPATCH [m]
LOCK: LOCK [m]
UNLOCK: UNLOCK [m]
PATCH: PATCH [m]
TRACE: TRACE [m]
--- no_error_log
[error]



=== TEST 4: capture: the body option, with its own Content-Length
--- config
    location = /sub {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_method(), " ", ngx.var.http_content_length,
                    " [", ngx.req.get_body_data(), "]")
        }
    }
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/sub",
                { method = ngx.HTTP_POST, body = "hello, world" })
            ngx.print(res.body)
            res = ngx.location.capture("/sub", { method = ngx.HTTP_PUT, body = 12345 })
            ngx.print(res.body)
            res = ngx.location.capture("/sub", { method = ngx.HTTP_POST, body = "" })
            ngx.print(res.body)
        }
    }
--- request
POST /t
a much longer parent body
--- response_body
POST 12 [hello, world]
PUT 5 [12345]
POST 0 [nil]
--- no_error_log
[error]



=== TEST 5: capture: args as a string, a number and a table, after the uri's own
--- config
    location = /sub {
        content_by_lua_block { ngx.say(ngx.var.args) }
    }
    location = /t {
        content_by_lua_block {
            local function cap(uri, args)
                ngx.print(ngx.location.capture(uri, { args = args }).body)
            end
            cap("/sub", "b=3&c=%3a")
            cap("/sub?a=1", "b=3")
            cap("/sub?a=1", 42)
            cap("/sub?a=1", { b = "x y" })
            cap("/sub", { flag = true, off = false })
            cap("/sub", { m = { "1", 2, true } })
            cap("/sub", { ["k="] = "=>" })
            cap("/sub?a=1", {})
        }
    }
--- request
GET /t
--- response_body
b=3&c=%3a
a=1&b=3
a=1&42
a=1&b=x%20y
flag
m=1&m=2&m
k%3D=%3D%3E
a=1
--- no_error_log
[error]



=== TEST 6: capture: vars sets user variables and changeable built-in ones
--- config
    location = /sub {
        content_by_lua_block {
            ngx.say("dog = ", ngx.var.dog)
            ngx.say("cat = ", ngx.var.cat)
            ngx.say("args = ", ngx.var.args)
        }
    }
    location = /t {
        set $dog 'parent dog';
        set $cat '';
        content_by_lua_block {
            local res = ngx.location.capture("/sub",
                { vars = { dog = "hello", cat = 32, args = "x=1" } })
            ngx.print(res.body)
            ngx.say("parent dog = ", ngx.var.dog)
        }
    }
--- request
GET /t
--- response_body
dog = hello
cat = 32
args = x=1
parent dog = parent dog
--- no_error_log
[error]



=== TEST 7: capture: by default a subrequest sees none of the parent's variables
--- config
    location = /sub {
        set $dog "$dog world";
        content_by_lua_block { ngx.say("sub: [", ngx.var.dog, "]") }
    }
    location = /t {
        set $dog 'hello';
        content_by_lua_block {
            ngx.print(ngx.location.capture("/sub").body)
            ngx.say("parent: ", ngx.var.dog)
        }
    }
--- request
GET /t
--- response_body
sub: [ world]
parent: hello
--- no_error_log
[error]



=== TEST 8: capture: copy_all_vars copies, share_all_vars shares
--- config
    location = /sub {
        set $dog "$dog world";
        content_by_lua_block { ngx.say("sub: ", ngx.var.dog) }
    }
    location = /t {
        set $dog 'hello';
        content_by_lua_block {
            ngx.print(ngx.location.capture("/sub", { copy_all_vars = true }).body)
            ngx.say("after copy: ", ngx.var.dog)
            ngx.print(ngx.location.capture("/sub", { share_all_vars = true }).body)
            ngx.say("after share: ", ngx.var.dog)
            ngx.print(ngx.location.capture("/sub",
                { share_all_vars = true, copy_all_vars = true }).body)
            ngx.say("share wins: ", ngx.var.dog)
        }
    }
--- request
GET /t
--- response_body
sub: hello world
after copy: hello
sub: hello world
after share: hello world
sub: hello world world
share wins: hello world world
--- no_error_log
[error]



=== TEST 9: capture: vars are set after the copy of all variables
--- config
    location = /sub {
        content_by_lua_block { ngx.say(ngx.var.dog, " ", ngx.var.cat) }
    }
    location = /t {
        set $dog 'hello';
        set $cat 'tom';
        content_by_lua_block {
            local res = ngx.location.capture("/sub",
                { copy_all_vars = true, vars = { dog = "world" } })
            ngx.print(res.body)
        }
    }
--- request
GET /t
--- response_body
world tom
--- no_error_log
[error]



=== TEST 10: capture: each subrequest has its own ngx.ctx by default
--- config
    location = /sub {
        content_by_lua_block {
            ngx.say("sub sees: ", ngx.ctx.foo)
            ngx.ctx.foo = "sub"
        }
    }
    location = /t {
        content_by_lua_block {
            ngx.ctx.foo = "main"
            ngx.print(ngx.location.capture("/sub").body)
            ngx.print(ngx.location.capture("/sub").body)
            ngx.say("main sees: ", ngx.ctx.foo)
        }
    }
--- request
GET /t
--- response_body
sub sees: nil
sub sees: nil
main sees: main
--- no_error_log
[error]



=== TEST 11: capture: the ctx option, a custom table or the parent's ngx.ctx
--- config
    location = /sub {
        content_by_lua_block {
            ngx.say("sub sees: ", ngx.ctx.foo)
            ngx.ctx.foo = "set by sub"
        }
    }
    location = /t {
        content_by_lua_block {
            local ctx = { foo = "custom" }
            ngx.print(ngx.location.capture("/sub", { ctx = ctx }).body)
            ngx.say("custom: ", ctx.foo, ", main: ", ngx.ctx.foo)
            ngx.ctx.foo = "shared"
            ngx.print(ngx.location.capture("/sub", { ctx = ngx.ctx }).body)
            ngx.say("main: ", ngx.ctx.foo)
        }
    }
--- request
GET /t
--- response_body
sub sees: custom
custom: set by sub, main: nil
sub sees: shared
main: set by sub
--- no_error_log
[error]



=== TEST 12: capture: POST/PUT inherit the parent's body, other methods only with always_forward_body
--- config
    location = /sub {
        content_by_lua_block {
            ngx.req.read_body()
            ngx.say(ngx.req.get_method(), ": ", ngx.req.get_body_data())
        }
    }
    location = /t {
        content_by_lua_block {
            ngx.req.read_body()
            for _, m in ipairs({"POST", "PUT", "DELETE", "GET"}) do
                local res = ngx.location.capture("/sub", { method = ngx["HTTP_" .. m] })
                ngx.print(res.body)
                res = ngx.location.capture("/sub",
                    { method = ngx["HTTP_" .. m], always_forward_body = true })
                ngx.print(res.body)
            end
        }
    }
--- request
POST /t
hello world
--- response_body
POST: hello world
POST: hello world
PUT: hello world
PUT: hello world
DELETE: nil
DELETE: hello world
GET: nil
GET: hello world
--- no_error_log
[error]



=== TEST 13: capture: request headers are inherited, the headers option overrides, and a subrequest's changes stay its own
--- config
    location = /sub {
        rewrite_by_lua_block {
            ngx.req.set_header("X-Added-By-Sub", "1")
        }
        content_by_lua_block {
            ngx.say("sub UA: ", ngx.var.http_user_agent)
            ngx.say("sub X-Test: ", ngx.var.http_x_test)
            ngx.say("sub Cookie: ", ngx.var.http_cookie)
            ngx.say("sub Host: ", ngx.var.http_host)
        }
    }
    location = /t {
        content_by_lua_block {
            ngx.print(ngx.location.capture("/sub").body)
            ngx.print(ngx.location.capture("/sub",
                { headers = { ["User-Agent"] = "override", ["X-Test"] = "aa" } }).body)
            ngx.say("main UA: ", ngx.var.http_user_agent)
            ngx.say("main X-Test: ", ngx.var.http_x_test)
            ngx.say("main X-Added-By-Sub: ", ngx.var.http_x_added_by_sub)
        }
    }
--- request
GET /t
--- more_headers
User-Agent: foo
Cookie: a=1
Cookie: b=2
--- response_body
sub UA: foo
sub X-Test: nil
sub Cookie: a=1; b=2
sub Host: localhost
sub UA: override
sub X-Test: aa
sub Cookie: a=1; b=2
sub Host: localhost
main UA: foo
main X-Test: nil
main X-Added-By-Sub: nil
--- no_error_log
[error]



=== TEST 14: capture: from rewrite_by_lua and access_by_lua, of an internal location
--- config
    location = /internal {
        internal;
        content_by_lua_block { ngx.print("internal:", ngx.var.arg_phase) }
    }
    location = /t {
        rewrite_by_lua_block {
            ngx.ctx.r = ngx.location.capture("/internal?phase=rewrite").body
        }
        access_by_lua_block {
            ngx.ctx.a = ngx.location.capture("/internal?phase=access").body
        }
        content_by_lua_block {
            ngx.say(ngx.ctx.r, " ", ngx.ctx.a, " ",
                    ngx.location.capture("/internal?phase=content").body)
        }
    }
--- request eval
["GET /t", "GET /internal"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^internal:rewrite internal:access internal:content\n\$", "404 Not Found"]



=== TEST 15: capture: a static file, its Last-Modified and numeric Content-Length; a missing one
--- user_files
>>> foo.html
hello, static file
--- config
    location = /t {
        content_by_lua_block {
            local res = ngx.location.capture("/foo.html")
            ngx.say(res.status, " ", res.body:sub(1, -2), " ", res.truncated)
            ngx.say(type(res.header["Content-Length"]), " ", res.header["Content-Length"])
            ngx.say(res.header["Last-Modified"])
            res = ngx.location.capture("/foo.html", { method = ngx.HTTP_HEAD })
            ngx.say("HEAD: ", res.status, " [", res.body, "] ", res.header["Content-Length"])
            res = ngx.location.capture("/missing.html")
            ngx.say("missing: ", res.status, " [", res.body, "]")
        }
    }
--- request
GET /t
--- response_body_like chomp
^200 hello, static file false
number 19
[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT
HEAD: 200 \[\] 19
missing: 404 \[\]$
--- error_log
open() "
missing.html" failed (2: No such file or directory)



=== TEST 16: capture: status and headers of a subrequest that ends early
--- config
    location = /redirect { content_by_lua_block { ngx.redirect("/elsewhere", 301) } }
    location = /forbidden { content_by_lua_block { ngx.exit(403) } }
    location = /error { content_by_lua_block { ngx.exit(ngx.ERROR) } }
    location = /returns { return 500; }
    location = /created { content_by_lua_block { ngx.status = 201 ngx.say("made") ngx.exit(ngx.OK) } }
    location = /t {
        content_by_lua_block {
            for _, uri in ipairs({"/redirect", "/forbidden", "/error", "/returns", "/created"}) do
                local res = ngx.location.capture(uri)
                ngx.say(uri, ": ", res.status, " [", res.body, "] ",
                        res.header.Location or "-")
            end
        }
    }
--- request
GET /t
--- response_body
/redirect: 301 [] /elsewhere
/forbidden: 403 [] -
/error: 500 [] -
/returns: 500 [] -
/created: 201 [made
] -
--- no_error_log
[error]
