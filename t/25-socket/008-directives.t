# lua_socket_* directives: timeouts and error logging as defaults for every
# cosocket of a location, and settimeout(s) overriding them.
use Test::Nginx::Socket::Lua;
use IO::Socket::INET;

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# A peer that never answers a connect: a listener whose accept queue is
# full, so the kernel drops further SYNs.
our $blackhole = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                       Proto => 'tcp', ReuseAddr => 1)
    or die "blackhole listener: $!";
$ENV{TEST_NGINX_BLACKHOLE_PORT} = $blackhole->sockport;
our @queued = map {
    IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $blackhole->sockport,
                          Proto => 'tcp', Blocking => 0)
} 1 .. 4;

# A peer that accepts connections (the kernel does, into its queue) but
# never reads: sends fill the buffers and stall.
our $sink = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                  Proto => 'tcp', ReuseAddr => 1)
    or die "sink listener: $!";
$ENV{TEST_NGINX_SINK_PORT} = $sink->sockport;

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_socket_connect_timeout: a connect that gets no answer times out after it
--- config
    lua_socket_connect_timeout 150ms;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            local t0 = ngx.now()
            local ok, err = sock:connect("127.0.0.1", $TEST_NGINX_BLACKHOLE_PORT)
            ngx.update_time()
            local took = ngx.now() - t0
            ngx.say(ok, " ", err, " ", took >= 0.1 and took < 2)
        }
    }
--- request
GET /t
--- response_body
nil timeout true
--- error_log eval
qr/\[error\] .*lua tcp socket connect timed out, upstream: 127\.0\.0\.1:\d+\(127\.0\.0\.1\), client: /



=== TEST 2: lua_socket_connect_timeout: settimeout before connect overrides it
--- config
    lua_socket_connect_timeout 60s;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeout(100)
            local ok, err = sock:connect("127.0.0.1", $TEST_NGINX_BLACKHOLE_PORT)
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- timeout: 5
--- response_body
nil timeout
--- error_log
lua tcp socket connect timed out



=== TEST 3: lua_socket_send_timeout: a send to a peer that does not read times out
--- config
    lua_socket_send_timeout 150ms;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_SINK_PORT))
            local chunk = string.rep("x", 1024 * 1024)
            local ok, err
            for i = 1, 64 do
                ok, err = sock:send(chunk)
                if not ok then
                    break
                end
            end
            ngx.say(ok, " ", err)
        }
    }
--- request
GET /t
--- response_body
nil timeout
--- error_log
lua tcp socket write timed out



=== TEST 4: lua_socket_keepalive_timeout: an idle pooled connection is closed after it
--- config
    location = /t {
        lua_socket_keepalive_timeout 100ms;
        content_by_lua_block {
            local function round(pause)
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_REDIS_PORT, { pool = "ka" }))
                local reused = sock:getreusedtimes()
                assert(sock:setkeepalive())
                ngx.sleep(pause)
                return reused
            end
            -- Right away the pooled connection is reused; after the idle
            -- timeout it is gone and a new one is opened.
            ngx.say("first: ", round(0))
            ngx.say("quick: ", round(0.01), " ", round(0.01))
            ngx.say("before the pause: ", round(0.3))
            ngx.say("after it: ", round(0))
        }
    }
--- request
GET /t
--- response_body
first: 0
quick: 1 2
before the pause: 3
after it: 0
--- no_error_log
[error]



=== TEST 5: lua_socket_log_errors off: failures are returned but not logged
--- config
    lua_socket_log_errors off;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeout(100)
            ngx.say(sock:connect("127.0.0.1", $TEST_NGINX_BLACKHOLE_PORT))
            local sock2 = ngx.socket.tcp()
            assert(sock2:connect("127.0.0.1", $TEST_NGINX_SINK_PORT))
            sock2:settimeout(100)
            ngx.say(sock2:receive())
        }
    }
--- request
GET /t
--- response_body
niltimeout
niltimeout
--- no_error_log
timed out
[error]



=== TEST 6: lua_socket_log_errors on (the default): the same failures are logged
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeout(100)
            ngx.say(sock:connect("127.0.0.1", $TEST_NGINX_BLACKHOLE_PORT))
            local sock2 = ngx.socket.tcp()
            assert(sock2:connect("127.0.0.1", $TEST_NGINX_SINK_PORT))
            sock2:settimeout(100)
            ngx.say(sock2:receive())
        }
    }
--- request
GET /t
--- response_body
niltimeout
niltimeout
--- error_log
lua tcp socket connect timed out
lua tcp socket read timed out
