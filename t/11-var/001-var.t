# ngx.var (reading, writing, captures). More of the request API: issue 4.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: var: built-in variables
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ngx.var.uri, " ", ngx.var.arg_a, " ", ngx.var.request_method, " ", ngx.var.ARG_A)
        }
    }
--- request
GET /t?a=1
--- response_body
/t 1 GET 1



=== TEST 2: var: undefined variable gives nil
--- config
    location = /t {
        content_by_lua_block { ngx.say(ngx.var.no_such_var, " ", ngx.var.arg_missing) }
    }
--- request
GET /t
--- response_body
nil nil



=== TEST 3: var: write a variable declared with set, read it back in nginx
--- config
    location = /t {
        set $target "";
        add_header X-Target $target;
        rewrite_by_lua_block { ngx.var.target = "from lua" }
        content_by_lua_block { ngx.say("ok") }
    }
--- request
GET /t
--- response_headers
X-Target: from lua



=== TEST 4: var: writing an unknown or unchangeable variable fails with upstream's text
--- config
    location = /t {
        content_by_lua_block {
            local ok, e1 = pcall(function() ngx.var.nope = 1 end)
            local ok2, e2 = pcall(function() ngx.var.uri = "/x" end)
            ngx.say(e1) ngx.say(e2)
        }
    }
--- request
GET /t
--- response_body_like
variable "nope" not found for writing; maybe it is a built-in variable that is not changeable or you forgot to use "set \$nope '';" in the config file to define it first
.*variable "uri" not changeable



=== TEST 5: var: regex captures by number, [0] the whole match, a negative index nil
--- config
    location ~ ^/cap/(\w+)/(\d+)$ {
        content_by_lua_block { ngx.say(ngx.var[1], " ", ngx.var[2], " ", ngx.var[3], " ", ngx.var[0], " ", ngx.var[-1]) }
    }
--- request
GET /cap/abc/42
--- response_body
abc 42 nil /cap/abc/42 nil



=== TEST 6: var: setting nil unsets, other values are stored as their tostring()
--- config
    location = /t {
        set $v "x";
        content_by_lua_block {
            ngx.var.v = 42
            local a = ngx.var.v
            ngx.var.v = true
            local b = ngx.var.v
            ngx.var.v = {}
            local c = ngx.var.v
            ngx.var.v = nil
            ngx.say(a, " ", type(a), " ", b, " ", c:match("^table: ") ~= nil, " ", ngx.var.v)
        }
    }
--- request
GET /t
--- response_body
42 string true true nil



=== TEST 7: var: reading with a bad name, outside a request and in a timer fails with the caller's position; init_worker_by_lua says "API disabled in the current context" as upstream (a fake request there)
--- http_config
    init_worker_by_lua_block {
        local ok, err = pcall(function() return ngx.var.uri end)
        ngx.log(ngx.WARN, "init_worker: ", err)
    }
--- config
    location = /t {
        content_by_lua_block {
            local ok, err = pcall(function() return ngx.var[{}] end)
            ngx.say(err)
            ok, err = pcall(function() return ngx.var[true] end)
            ngx.say(err)
            ngx.timer.at(0, function()
                local ok, err = pcall(function() return ngx.var.uri end)
                ngx.log(ngx.WARN, "timer: ", err)
            end)
            ngx.sleep(0.01)
            ngx.say(ngx.var[1.0], " ", ngx.var["URI"], " ", ngx.var.no_such_var)
        }
    }
--- request
GET /t
--- response_body_like chomp
^content_by_lua\(nginx.conf:\d+\):2: bad variable name
content_by_lua\(nginx.conf:\d+\):4: bad variable name
nil /t nil
$
--- error_log eval
[qr/init_worker: init_worker_by_lua\(nginx.conf:\d+\):2: API disabled in the current context/,
qr/timer: content_by_lua\(nginx.conf:\d+\):7: API disabled in the current context/]
