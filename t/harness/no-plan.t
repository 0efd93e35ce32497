# Passing self-test: a file without any plan still runs and counts its checks.
use Test::Nginx::Socket;
run_tests();
__DATA__

=== TEST 1: no plan
--- config
    location = /t { return 200 "x"; }
--- request
GET /t
--- response_body: x
