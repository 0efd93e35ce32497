# The entry-thread cache traces as upstream's: a handler's entry thread
# that returned is kept for the next handler, which reuses it.
use Test::Nginx::Socket::Lua;

repeat_each(2);
plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: the first request's entry thread is cached when it returns; the next request reuses it and caches it again
--- config
    location = /t {
        content_by_lua_block { ngx.say("hi") }
    }
--- log_level: debug
--- request
GET /t
--- response_body
hi
--- grep_error_log eval
qr/lua (?:caching unused|reusing cached) lua thread [0-9A-F]+ \(ref \d+\)/
--- grep_error_log_out eval
[
    qr/\Alua caching unused lua thread [0-9A-F]+ \(ref \d+\)\n\z/,
    qr/\Alua reusing cached lua thread ([0-9A-F]+) \(ref (\d+)\)\nlua caching unused lua thread \1 \(ref \2\)\n\z/,
]
--- no_error_log
[error]
