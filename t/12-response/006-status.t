# The status ngx.exit leaves on the response.
use Test::Nginx::Socket::Lua;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.exit(404) sets the status, which an `error_page 404 = /uri` target keeps
--- config
    error_page 404 = /err;
    location = /foo {
        content_by_lua_block { ngx.exit(404) }
    }
    location = /nginx {
        return 404;
    }
    location = /err {
        content_by_lua_block { ngx.say("error page, status ", ngx.status) }
    }
--- request eval
["POST /foo\nbody", "GET /nginx"]
--- error_code eval
[404, 200]
--- response_body eval
["error page, status 404\n", "error page, status 0\n"]
--- no_error_log
[error]
