# ssl_session_fetch_by_lua* and ssl_session_store_by_lua* with ngx.ssl.session:
# a session cache in a shared dict, checked by real resumptions (our
# cosockets, with the server reporting $ssl_session_reused, and openssl
# s_client's "Reused"). Certificates are made by t/lib/TestSslCerts.pm.
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test));

# Every block gets a TLS server on RAND_PORT_1 (tickets off, so sessions
# are resumed by id) with the block's `fetch` and `store` sections as
# http-level handlers, and helpers: hs(sess, proto) does a cosocket
# handshake (offering sess), a request, and returns the new session and
# what the server saw; s_client(...) runs openssl s_client.
add_block_preprocessor(sub {
    my $block = shift;
    my $hooks = "";
    $hooks .= "    ssl_session_fetch_by_lua_block {\n" . $block->fetch . "\n    }\n"
        if defined $block->fetch;
    $hooks .= "    ssl_session_store_by_lua_block {\n" . $block->store . "\n    }\n"
        if defined $block->store;
    my $server = <<"_EOC_";
    lua_shared_dict sessions 1m;
$hooks
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        server_name _;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets off;
        ssl_certificate \$TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key \$TEST_NGINX_SSL_DIR/a.test.key;
        location / {
            return 200 "reused=\$ssl_session_reused proto=\$ssl_protocol";
        }
    }
    init_by_lua_block {
        PORT = \$TEST_NGINX_RAND_PORT_1
        function hs(sess, timeout)
            local sock = ngx.socket.tcp()
            sock:settimeout(timeout or 3000)
            assert(sock:connect("127.0.0.1", PORT))
            local s, err = sock:sslhandshake(sess, "a.test", false)
            if not s then
                sock:close()
                return nil, err
            end
            sock:send("GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            local resp = sock:receive("*a")
            sock:close()
            return s, resp and resp:match("\\r\\n\\r\\n(.*)")
        end
        function run(args)
            local proc = assert(require("ngx.pipe").spawn(args, { merge_stderr = true }))
            proc:set_timeouts(3000, 3000, 3000)
            proc:shutdown("stdin")
            local out = proc:stdout_read_all()
            proc:wait()
            return out or ""
        end
    }
_EOC_
    $block->set_value("http_config", $server . ($block->http_config // ""));
    $block->set_value("request", "GET /t") unless defined $block->request;
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ssl_session_store_by_lua_block, ssl_session_fetch_by_lua_block: TLS 1.2 sessions cached in a shared dict are resumed
--- store
        local sess = require "ngx.ssl.session"
        local id = assert(sess.get_session_id())
        local data = assert(sess.get_serialized_session())
        ngx.log(ngx.INFO, "stored ", id, " phase=", ngx.get_phase())
        assert(ngx.shared.sessions:set(id, data))
--- fetch
        local sess = require "ngx.ssl.session"
        local id = assert(sess.get_session_id())
        ngx.log(ngx.INFO, "fetching ", id, " phase=", ngx.get_phase())
        local data = ngx.shared.sessions:get(id)
        if data then
            assert(sess.set_serialized_session(data))
        end
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s, body = hs()
            ngx.say("1: ", body)
            local s2, body = hs(s)
            ngx.say("2: ", body)
            local _, body = hs(s2)
            ngx.say("3: ", body)
            local keys = ngx.shared.sessions:get_keys()
            ngx.say("cached: ", #keys, " id length: ", #keys[1])
        }
    }
--- response_body
1: reused=. proto=TLSv1.2
2: reused=r proto=TLSv1.2
3: reused=r proto=TLSv1.2
cached: 1 id length: 64
--- error_log eval
[qr/stored [0-9a-f]{64} phase=ssl_session_store/, qr/fetching [0-9a-f]{64} phase=ssl_session_fetch/]
--- no_error_log
[error]
[alert]



=== TEST 2: ssl_session_fetch_by_lua_block: openssl s_client -sess_out/-sess_in reports Reused
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                                       assert(sess.get_serialized_session())))
--- fetch
        local sess = require "ngx.ssl.session"
        local data = ngx.shared.sessions:get(assert(sess.get_session_id()))
        if data then
            assert(sess.set_serialized_session(data))
        end
--- config
    location = /t {
        content_by_lua_block {
            local file = ngx.config.prefix() .. "/sess.pem"
            local args = { "openssl", "s_client", "-connect", "127.0.0.1:" .. PORT,
                           "-tls1_2", "-no_ticket", "-servername", "a.test" }
            local first = { unpack(args) }
            table.insert(first, "-sess_out")
            table.insert(first, file)
            ngx.say(run(first):match("\n(New), ") or "no New")
            local again = { unpack(args) }
            table.insert(again, "-sess_in")
            table.insert(again, file)
            ngx.say(run(again):match("\n(Reused), ") or "not reused")
        }
    }
--- response_body
New
Reused
--- no_error_log
[error]
[alert]



=== TEST 3: ssl_session_fetch_by_lua_block: the handler yields (ngx.sleep and a cosocket to a TCP peer), then the session resumes
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /sess {
            content_by_lua_block {
                ngx.print(ngx.shared.sessions:get(ngx.var.arg_id) or "")
            }
        }
    }
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                                       assert(sess.get_serialized_session())))
--- fetch
        local sess = require "ngx.ssl.session"
        local id = assert(sess.get_session_id())
        ngx.sleep(0.05)
        local sock = ngx.socket.tcp()
        assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
        assert(sock:send("GET /sess?id=" .. id .. " HTTP/1.0\r\n\r\n"))
        local resp = assert(sock:receive("*a"))
        sock:close()
        local data = resp:match("\r\n\r\n(.*)")
        ngx.log(ngx.INFO, "peer gave ", #data, " bytes")
        if #data > 0 then
            assert(sess.set_serialized_session(data))
        end
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s, body = hs()
            ngx.say("1: ", body)
            local _, body = hs(s)
            ngx.say("2: ", body)
        }
    }
--- response_body
1: reused=. proto=TLSv1.2
2: reused=r proto=TLSv1.2
--- error_log eval
qr/peer gave [1-9]\d+ bytes/
--- no_error_log
[error]
[alert]



=== TEST 4: ssl_session_fetch_by_lua_block: the client leaves while the handler sleeps: the handler stops, the next handshake works
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                                       assert(sess.get_serialized_session())))
--- fetch
        local sess = require "ngx.ssl.session"
        if ngx.shared.sessions:incr("fetches", 1, 0) == 1 then
            ngx.log(ngx.INFO, "handler sleeps")
            ngx.sleep(0.5)
            ngx.log(ngx.ERR, "handler woke")
        end
        local data = ngx.shared.sessions:get(assert(sess.get_session_id()))
        if data then
            assert(sess.set_serialized_session(data))
        end
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s, body = hs()
            ngx.say("1: ", body)
            local _, err = hs(s, 100)
            ngx.say("2: ", err)
            ngx.sleep(0.6)
            local _, body = hs(s)
            ngx.say("3: ", body)
        }
    }
--- response_body
1: reused=. proto=TLSv1.2
2: timeout
3: reused=r proto=TLSv1.2
--- error_log
handler sleeps
--- no_error_log
handler woke
[alert]



=== TEST 5: ssl_session_fetch_by_lua_block, ssl_session_store_by_lua_block: Lua errors are logged and the handshake goes on (fully)
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                                       assert(sess.get_serialized_session())))
        error("store boom")
--- fetch
        ngx.sleep(0.01)
        error("fetch boom")
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s, body = hs()
            ngx.say("1: ", body)
            local _, body = hs(s)
            ngx.say("2: ", body)
        }
    }
--- response_body
1: reused=. proto=TLSv1.2
2: reused=. proto=TLSv1.2
--- error_log eval
[qr/\[error\] .*failed to run session_store_by_lua\*: ssl_session_store_by_lua\(nginx\.conf:\d+\):5: store boom/,
 qr/in main chunk, context: ssl_session_store_by_lua\*, client: 127\.0\.0\.1/,
 qr/\[error\] .*lua entry thread aborted: runtime error: ssl_session_fetch_by_lua\(nginx\.conf:\d+\):3: fetch boom/,
 qr/in main chunk, context: ssl_session_fetch_by_lua\*, client: 127\.0\.0\.1/]
--- no_error_log
[alert]



=== TEST 6: ssl_session_fetch_by_lua_block: ngx.exit(ngx.ERROR) ends the handler, the handshake goes on
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                                       assert(sess.get_serialized_session())))
--- fetch
        local sess = require "ngx.ssl.session"
        assert(sess.set_serialized_session(ngx.shared.sessions:get(assert(sess.get_session_id()))))
        ngx.exit(ngx.ERROR)
        ngx.log(ngx.ERR, "not reached")
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s, body = hs()
            ngx.say("1: ", body)
            local _, body = hs(s)
            ngx.say("2: ", body)
        }
    }
--- response_body
1: reused=. proto=TLSv1.2
2: reused=r proto=TLSv1.2
--- log_level: debug
--- error_log
lua exit with code -1
--- no_error_log
[error]
[alert]



=== TEST 7: ssl_session_store_by_lua_block: yielding APIs are disabled, ngx.timer.at works
--- store
        local sess = require "ngx.ssl.session"
        local id = assert(sess.get_session_id())
        assert(ngx.timer.at(0, function() ngx.log(ngx.INFO, "timer for ", id) end))
        ngx.sleep(0.01)
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local _, body = hs()
            ngx.say(body)
            ngx.sleep(0.05)
        }
    }
--- response_body
reused=. proto=TLSv1.2
--- error_log eval
[qr/failed to run session_store_by_lua\*: .*API disabled in the context of ssl_session_store_by_lua\*/,
 qr/timer for [0-9a-f]{64}/]
--- no_error_log
[alert]



=== TEST 8: ngx.ssl.session: bad serialized sessions give upstream's errors and a full handshake
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set("x", "stored"))
--- fetch
        local sess = require "ngx.ssl.session"
        ngx.log(ngx.INFO, "garbage: ", select(2, sess.set_serialized_session("==garbage data==")))
        ngx.log(ngx.INFO, "empty: ", select(2, sess.set_serialized_session("")))
        ngx.log(ngx.INFO, "huge: ", select(2, sess.set_serialized_session(("x"):rep(5000))))
        ngx.log(ngx.INFO, "unset: ", select(2, sess.get_serialized_session()))
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s, body = hs()
            ngx.say("1: ", body)
            local _, body = hs(s)
            ngx.say("2: ", body)
        }
    }
--- response_body
1: reused=. proto=TLSv1.2
2: reused=. proto=TLSv1.2
--- error_log
garbage: failed to de-serialize session
empty: invalid session length
huge: invalid session length
unset: bad session in lua context
--- no_error_log
[error]
[alert]



=== TEST 9: ngx.ssl.session: outside the session handlers: "bad request" without TLS, "bad lua context" over TLS, "no request found" raised outside requests
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        location / {
            content_by_lua_block {
                local sess = require "ngx.ssl.session"
                ngx.say("tls id: ", select(2, sess.get_session_id()))
                ngx.say("tls get: ", select(2, sess.get_serialized_session()))
                ngx.say("tls set: ", select(2, sess.set_serialized_session("junk")))
            }
        }
    }
    init_worker_by_lua_block {
        local ok, err = pcall(require("ngx.ssl.session").get_session_id)
        INIT_ERR = err
    }
--- config
    location = /t {
        content_by_lua_block {
            local sess = require "ngx.ssl.session"
            ngx.say("plain id: ", select(2, sess.get_session_id()))
            ngx.say("plain set: ", select(2, sess.set_serialized_session("junk")))
            ngx.say("init_worker: ", INIT_ERR)
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            assert(sock:sslhandshake(nil, nil, false))
            sock:send("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            ngx.print((sock:receive("*a"):match("\r\n\r\n(.*)")))
        }
    }
--- response_body_like
plain id: bad request
plain set: bad request
init_worker: .*no request found
tls id: bad lua context
tls get: bad lua context
tls set: failed to de-serialize session
--- no_error_log
[error]
[alert]



=== TEST 10: ssl_session_fetch_by_lua_block, ssl_session_store_by_lua_block: skipped with TLS 1.3, as upstream
--- store
        ngx.log(ngx.ERR, "store ran")
--- fetch
        ngx.log(ngx.ERR, "fetch ran")
--- config
    lua_ssl_protocols TLSv1.3;
    location = /t {
        content_by_lua_block {
            local s, body = hs()
            ngx.say("1: ", body)
            local _, body = hs(s)
            ngx.say("2: ", body)
        }
    }
--- response_body
1: reused=. proto=TLSv1.3
2: reused=. proto=TLSv1.3
--- error_log
ssl_session_store_by_lua*: skipped since TLS version >= 1.3 (304)
--- no_error_log
store ran
fetch ran
[alert]



=== TEST 11: ssl_session_fetch_by_lua_block: with ssl_certificate_by_lua, a resumed session skips the certificate handler, a new one runs it after the fetch
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_session_tickets off;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        ssl_certificate_by_lua_block {
            ngx.shared.sessions:incr("cert", 1, 0)
            ngx.log(ngx.INFO, "cert handler after fetch: ", tostring(ngx.shared.sessions:get("fetched")))
        }
        location / {
            return 200 "reused=$ssl_session_reused";
        }
    }
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                                       assert(sess.get_serialized_session())))
--- fetch
        local sess = require "ngx.ssl.session"
        ngx.sleep(0.01)
        ngx.shared.sessions:set("fetched", true)
        local data = ngx.shared.sessions:get(assert(sess.get_session_id()))
        if data and not ngx.shared.sessions:get("forget") then
            assert(sess.set_serialized_session(data))
        end
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local function go(s)
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
                s = assert(sock:sslhandshake(s, "a.test", false))
                sock:send("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                ngx.say(sock:receive("*a"):match("\r\n\r\n(.*)"), " cert runs=",
                        ngx.shared.sessions:get("cert"))
                sock:close()
                return s
            end
            local s = go()
            go(s)
            ngx.shared.sessions:set("forget", true)
            go(s)
        }
    }
--- response_body
reused=. cert runs=1
reused=r cert runs=1
reused=. cert runs=2
--- error_log
cert handler after fetch: true
--- no_error_log
[error]
[alert]



=== TEST 12: ssl_session_fetch_by_lua_file, ssl_session_store_by_lua_file: the handlers from files
--- http_config
    ssl_session_store_by_lua_file html/store.lua;
    ssl_session_fetch_by_lua_file html/fetch.lua;
--- user_files
>>> store.lua
local sess = require "ngx.ssl.session"
assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                               assert(sess.get_serialized_session())))
>>> fetch.lua
local sess = require "ngx.ssl.session"
local data = ngx.shared.sessions:get(assert(sess.get_session_id()))
if data then
    assert(sess.set_serialized_session(data))
end
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s, body = hs()
            ngx.say("1: ", body)
            local _, body = hs(s)
            ngx.say("2: ", body)
        }
    }
--- response_body
1: reused=. proto=TLSv1.2
2: reused=r proto=TLSv1.2
--- no_error_log
[error]
[alert]



=== TEST 13: ssl_session_fetch_by_lua_block: not allowed in a server block
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        ssl_session_fetch_by_lua_block { ngx.log(ngx.ERR, "x") }
    }
--- config
--- must_die
--- error_log
"ssl_session_fetch_by_lua_block" directive is not allowed here



=== TEST 14: ssl_session_fetch_by_lua_block: after ssl_client_hello_by_lua's set_protocols, the session resumes at the version the hello handler allowed, and the certificate handler only runs for the full handshake
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets off;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        ssl_client_hello_by_lua_block {
            assert(require("ngx.ssl.clienthello").set_protocols({ "TLSv1.2" }))
        }
        ssl_certificate_by_lua_block {
            ngx.shared.sessions:incr("cert", 1, 0)
        }
        location / {
            return 200 "reused=$ssl_session_reused proto=$ssl_protocol";
        }
    }
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                                       assert(sess.get_serialized_session())))
--- fetch
        local sess = require "ngx.ssl.session"
        local data = ngx.shared.sessions:get(assert(sess.get_session_id()))
        if data then
            assert(sess.set_serialized_session(data))
        end
--- config
    lua_ssl_protocols TLSv1.2 TLSv1.3;
    location = /t {
        content_by_lua_block {
            local s
            for i = 1, 2 do
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
                s = assert(sock:sslhandshake(s, "a.test", false))
                sock:send("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                ngx.say(i, ": ", sock:receive("*a"):match("\r\n\r\n(.*)"),
                        " cert runs=", ngx.shared.sessions:get("cert"))
                sock:close()
            end
        }
    }
--- response_body
1: reused=. proto=TLSv1.2 cert runs=1
2: reused=r proto=TLSv1.2 cert runs=1
--- no_error_log
[error]
[alert]



=== TEST 15: ssl_session_fetch_by_lua_block: a server whose ssl_certificate has variables keeps nginx's certificate callback, and resumes
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_session_tickets off;
        ssl_certificate $TEST_NGINX_SSL_DIR/$ssl_server_name.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/$ssl_server_name.key;
        location / {
            return 200 "reused=$ssl_session_reused";
        }
    }
--- store
        local sess = require "ngx.ssl.session"
        assert(ngx.shared.sessions:set(assert(sess.get_session_id()),
                                       assert(sess.get_serialized_session())))
--- fetch
        local sess = require "ngx.ssl.session"
        local data = ngx.shared.sessions:get(assert(sess.get_session_id()))
        if data then
            assert(sess.set_serialized_session(data))
        end
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local s
            for i = 1, 2 do
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
                local err
                s, err = sock:sslhandshake(s, "a.test", false)
                if not s then
                    ngx.say(i, ": ", err)
                    return
                end
                sock:send("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                ngx.say(i, ": ", sock:receive("*a"):match("\r\n\r\n(.*)"))
                sock:close()
            end
        }
    }
--- response_body
1: reused=.
2: reused=r
--- no_error_log
[error]
[alert]
