# Upstream's debug line at the top of each phase handler and filter it
# puts into nginx ("lua rewrite handler, uri:"/t" c:1", "lua capture body
# filter, uri "/t"", ...): a hook is there only when some location uses it,
# and its line names the request's URI (and, for handlers, the main
# request's reference count). Upstream's own suites grep these lines.
use Test::Nginx::Socket::Lua;

# Every phase hook in use.
our $AllPhases = q{
    location = /t {
        rewrite_by_lua_block { }
        access_by_lua_block { }
        content_by_lua_block { ngx.say("hello") }
        header_filter_by_lua_block { }
        body_filter_by_lua_block { }
        log_by_lua_block { }
    }
    location = /plain.txt {
    }
};

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: only content_by_lua in the configuration: the content handler and the capture filters run, no other hook
--- config
    location = /t {
        content_by_lua_block { ngx.say("hello") }
    }
--- log_level: debug
--- request
GET /t
--- response_body
hello
--- grep_error_log eval
qr/lua (?:[a-z ]+ handler, uri:"[^"]*" c:\d+|[a-z ]+ filter(?: for user lua code)?, uri "[^"]*")/
--- grep_error_log_out
lua content handler, uri:"/t" c:1
lua capture header filter, uri "/t"
lua capture body filter, uri "/t"
lua capture body filter, uri "/t"
--- no_error_log
[error]



=== TEST 2: every phase in use: each hook traces once per request, in nginx's order
--- config eval: $::AllPhases
--- user_files
>>> plain.txt
plain
--- log_level: debug
--- request
GET /t
--- response_body
hello
--- grep_error_log eval
qr/lua (?:[a-z ]+ handler, uri:"[^"]*"|(?:header|body) filter for user lua code, uri "[^"]*")/
--- grep_error_log_out
lua rewrite handler, uri:"/t"
lua access handler, uri:"/t"
lua content handler, uri:"/t"
lua header filter for user lua code, uri "/t"
lua body filter for user lua code, uri "/t"
lua body filter for user lua code, uri "/t"
lua log handler, uri:"/t"
--- no_error_log
[error]



=== TEST 3: the hooks run (and trace) for a location without Lua too, as upstream's
--- config eval: $::AllPhases
--- user_files
>>> plain.txt
plain
--- log_level: debug
--- request
GET /plain.txt
--- response_body
plain
--- grep_error_log eval
qr/lua (?:[a-z ]+ handler, uri:"[^"]*"|(?:header|body) filter for user lua code, uri "[^"]*")/
--- grep_error_log_out
lua rewrite handler, uri:"/plain.txt"
lua access handler, uri:"/plain.txt"
lua header filter for user lua code, uri "/plain.txt"
lua body filter for user lua code, uri "/plain.txt"
lua log handler, uri:"/plain.txt"
--- no_error_log
[error]



=== TEST 4: the rewrite handler leaves its line out while nginx's rewrite changed the URI, and writes it in the location found again
--- config
    location = /old {
        rewrite ^ /new;
    }
    location = /new {
        rewrite_by_lua_block { }
        content_by_lua_block { ngx.say(ngx.var.uri) }
    }
--- log_level: debug
--- request
GET /old
--- response_body
/new
--- grep_error_log eval
qr/lua rewrite handler, uri:"[^"]*" c:\d+/
--- grep_error_log_out
lua rewrite handler, uri:"/new" c:1
--- no_error_log
[error]
