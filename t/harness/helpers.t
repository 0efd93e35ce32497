# Passing self-test: the Lua wrapper module and the top-level helpers,
# still with core nginx directives only.
use Test::Nginx::Socket::Lua;

repeat_each(2);
master_on();
workers(2);
worker_connections(256);
log_level('info');
env_to_nginx('HARNESS_SELFTEST_VAR=42');
no_long_string();
no_diff();
check_accum_error_log() if 0;
timeout(5);

our $HtmlDir = html_dir();
our $ServRoot = server_root();
our $Port = server_port();

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->request) {
        $block->set_value("request", "GET /t\n");
    }
});

# Added last, so it runs first (as in Test::Nginx): the request it sets is
# kept by the preprocessor above.
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->request && $block->name =~ /preprocessor order/) {
        $block->set_value("request", "GET /order\n");
    }
});

plan tests => repeat_each() * (blocks() * 2 + 5);

run_tests();

__DATA__

=== TEST 1: request added by the block preprocessor; master + 2 workers
--- config
    location = /t { return 200 "pre\n"; }
--- log_level: debug
--- response_body
pre
--- no_error_log
[error]



=== TEST 2: main_config, http_config, env_to_nginx
--- main_config
    env HARNESS_OTHER=7;
--- http_config
    map $uri $mapped {
        default "m:$uri";
    }
--- config
    location = /t { return 200 "$mapped\n"; }
--- response_body
m:/t



=== TEST 3: more_headers eval array per request, HEAD request
--- config
    location = /t { return 200 "h=$http_x_h\n"; }
--- request eval
["GET /t", "HEAD /t"]
--- more_headers eval
["X-H: one", "X-H: two"]
--- response_body eval
["h=one\n", ""]
--- response_headers eval
["Content-Length: 6", "Content-Length: 6"]



=== TEST 4: html_dir / server_root / server_port usable in eval
--- config eval
"location = /t { return 200 '" . ($::HtmlDir eq "$::ServRoot/html" ? "yes" : "no") . " $::Port'; }"
--- response_body eval
"yes $::Port"



=== TEST 5: default env values
--- config eval
"location = /t { return 200 '$ENV{TEST_NGINX_REDIS_PORT} $ENV{TEST_NGINX_MEMCACHED_PORT}'; }"
--- response_body chop
6379 11211



=== TEST 6: preprocessor order: the one added last runs first
--- config
    location = /order { return 200 "order\n"; }
    location = /t { return 200 "t\n"; }
--- response_body
order



=== TEST 7: no response at all (444): an empty status and an empty body, as Test::Nginx parses it
--- config
    location = /t { return 444; }
--- error_code:
--- response_body
