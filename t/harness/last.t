# Passing self-test: blocks after a --- LAST block do not run.
use Test::Nginx::Socket;
plan tests => blocks() * 2;
run_tests();
__DATA__

=== TEST 1: last one run
--- config
    location = /t { return 200 "last\n"; }
--- request
GET /t
--- response_body
last
--- LAST



=== TEST 2: would fail if it ran
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never
