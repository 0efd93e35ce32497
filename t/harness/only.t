# Passing self-test: with --- ONLY, only that block runs (and blocks() counts 1).
use Test::Nginx::Socket;
plan tests => blocks() * 2;
run_tests();
__DATA__

=== TEST 1: would fail if it ran
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never



=== TEST 2: the only block
--- ONLY
--- config
    location = /t { return 200 "only\n"; }
--- request
GET /t
--- response_body
only
