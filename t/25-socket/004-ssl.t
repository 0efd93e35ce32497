# tcpsock:sslhandshake and lua_ssl_* against a TLS server of the test's own
# (an extra server block with the certificates in t/cert).
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

$ENV{TEST_NGINX_CERT_DIR} ||= abs_path(dirname(__FILE__) . "/../cert");

# Every block gets the TLS server (unless it brings its own) and a helper
# that sends a GET and returns the response body.
add_block_preprocessor(sub {
    my $block = shift;
    my $server = $block->tls_server // <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name test.com;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_session_cache shared:TLS:1m;
        ssl_session_tickets off;
        location / {
            return 200 "reused=$ssl_session_reused proto=$ssl_protocol sni=$ssl_server_name cipher=$ssl_cipher\n";
        }
    }
_EOC_
    my $helper = <<'_EOC_';
    init_by_lua_block {
        function http_get(sock, host)
            local ok, err = sock:send("GET / HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n")
            if not ok then
                return nil, "send: " .. err
            end
            local head, err = sock:receiveuntil("\r\n\r\n")()
            if not head then
                return nil, "receive: " .. err
            end
            local len = tonumber(head:match("[Cc]ontent%-[Ll]ength: (%d+)"))
            return sock:receive(len)
        end
    }
_EOC_
    $block->set_value("http_config", $server . $helper . ($block->http_config // ""));
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: sslhandshake: verified handshake with SNI, a session, a request over TLS
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.crt;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local sess, err = sock:sslhandshake(nil, "test.com", true)
            ngx.say("handshake: ", type(sess), " ", err)
            ngx.print(http_get(sock, "test.com"))
            sock:close()
        }
    }
--- request
GET /t
--- response_body_like
^handshake: cdata nil
reused=\. proto=TLSv1\.[23] sni=test\.com cipher=\S+
--- no_error_log
[error]



=== TEST 2: sslhandshake: a server signed by an untrusted CA fails verification
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/other-ca.crt;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say(sock:sslhandshake(nil, "test.com", true))
            ngx.say(sock:send("x"))
        }
    }
--- request
GET /t
--- response_body
nil21: unable to verify the first certificate
nilclosed
--- error_log
lua ssl certificate verify error: (21: unable to verify the first certificate)



=== TEST 3: sslhandshake: without ssl_verify an untrusted server is accepted
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local sess, err = sock:sslhandshake(false, "test.com")
            ngx.say("handshake: ", sess, " ", err)
            ngx.print(http_get(sock, "test.com"))
        }
    }
--- request
GET /t
--- response_body_like
^handshake: true nil
reused=\. proto=TLSv1\.[23] sni=test\.com cipher=\S+
--- no_error_log
[error]



=== TEST 4: sslhandshake: a certificate for another host name
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.crt;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say(sock:sslhandshake(nil, "wrong.example", true))
        }
    }
--- request
GET /t
--- response_body
nilcertificate host mismatch
--- error_log
lua ssl certificate does not match host "wrong.example"



=== TEST 5: sslhandshake: a session resumes a TLS 1.2 connection
--- config
    lua_ssl_protocols TLSv1.2;
    lua_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.crt;
    location = /t {
        content_by_lua_block {
            local sess
            for i = 1, 2 do
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
                local s, err = sock:sslhandshake(sess, "test.com", true)
                if not s then
                    ngx.say("handshake failed: ", err)
                    return
                end
                sess = s
                ngx.print(i, ": ", http_get(sock, "test.com"))
                sock:close()
            end
        }
    }
--- request
GET /t
--- response_body_like
^1: reused=\. proto=TLSv1\.2 .*
2: reused=r proto=TLSv1\.2 .*
--- no_error_log
[error]



=== TEST 6: sslhandshake: pooled TLS connections come back without a new handshake
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.crt;
    location = /t {
        content_by_lua_block {
            for i = 1, 3 do
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
                local sess, err = sock:sslhandshake(nil, "test.com", true)
                if not sess then
                    ngx.say("handshake failed: ", err)
                    return
                end
                local body = http_get(sock, "test.com")
                ngx.say(i, ": reused ", sock:getreusedtimes(), ", ", body:match("proto=%S+"))
                assert(sock:setkeepalive())
            end
        }
    }
--- request
GET /t
--- response_body_like
^1: reused 0, proto=TLSv1\.[23]
2: reused 1, proto=TLSv1\.[23]
3: reused 2, proto=TLSv1\.[23]
--- no_error_log
[error]



=== TEST 7: sslhandshake: a peer that does not speak TLS
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            ngx.say(sock:sslhandshake())
            ngx.say(sock:receive())
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_reply: HTTP/1.0 200 OK
--- request
GET /t
--- response_body
nilhandshake failed
nilclosed



=== TEST 8: sslhandshake: a silent peer times out after the connect timeout
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            sock:settimeouts(150, 1000, 1000)
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            ngx.say(sock:sslhandshake())
        }
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_no_close
--- request
GET /t
--- response_body
niltimeout



=== TEST 9: sslhandshake: bad arguments and closed sockets
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(sock:sslhandshake())
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say(select(2, pcall(sock.sslhandshake, sock, nil, 42)))
            ngx.say(select(2, pcall(sock.sslhandshake, sock, nil, "x", true, false, 1)))
            sock:close()
            ngx.say(sock:sslhandshake())
        }
    }
--- request
GET /t
--- response_body
nilclosed
bad argument #2 to 'sslhandshake' (string expected, got number)
ngx.socket sslhandshake: expecting 1 ~ 5 arguments (including the object), but seen 6
nilclosed



=== TEST 10: lua_ssl_protocols and lua_ssl_ciphers choose what the client offers
--- config
    lua_ssl_protocols TLSv1.2;
    lua_ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:sslhandshake(false))
            ngx.print(http_get(sock, "test.com"))
        }
    }
--- request
GET /t
--- response_body
reused=. proto=TLSv1.2 sni= cipher=ECDHE-RSA-AES128-GCM-SHA256
--- no_error_log
[error]



=== TEST 11: lua_ssl_verify_depth 0: a chain with an intermediate CA is too deep
--- tls_server
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/chain-server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/chain-server.key;
        location / {
            return 200 "ok\n";
        }
    }
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/chain-root-ca.crt;
    lua_ssl_verify_depth 0;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say(sock:sslhandshake(false, "chain.test", true))
        }
    }
--- request
GET /t
--- response_body
nil20: unable to get local issuer certificate
--- error_log
lua ssl certificate verify error: (20: unable to get local issuer certificate)



=== TEST 12: lua_ssl_verify_depth 1 allows one intermediate CA
--- tls_server
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/chain-server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/chain-server.key;
        location / {
            return 200 "ok\n";
        }
    }
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/chain-root-ca.crt;
    lua_ssl_verify_depth 1;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            ngx.say(sock:sslhandshake(false, "chain.test", true))
        }
    }
--- request
GET /t
--- response_body
true
--- no_error_log
[error]



=== TEST 13: lua_ssl_certificate presents a client certificate
--- tls_server
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/ca.crt;
        ssl_verify_client optional;
        location / {
            return 200 "client=$ssl_client_verify\n";
        }
    }
--- config
    location = /with {
        lua_ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        lua_ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:sslhandshake(false))
            ngx.print(http_get(sock, "test.com"))
        }
    }
    location = /without {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:sslhandshake(false))
            ngx.print(http_get(sock, "test.com"))
        }
    }
--- request eval
["GET /with", "GET /without"]
--- response_body eval
["client=SUCCESS\n", "client=NONE\n"]
--- no_error_log
[error]



=== TEST 14: lua_ssl_certificate needs a key
--- config
    lua_ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
    location = /t {
        return 200;
    }
--- must_die
--- error_log
no "lua_ssl_certificate_key" is defined for certificate



=== TEST 15: sslhandshake on an already TLS connection returns the given session
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.crt;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local sess = assert(sock:sslhandshake(nil, "test.com", true))
            ngx.say("again with it: ", sock:sslhandshake(sess) == sess)
            ngx.say("again without: ", type(sock:sslhandshake()))
            ngx.say("again, no session: ", sock:sslhandshake(false))
            ngx.print(http_get(sock, "test.com"):match("sni=%S+"), "\n")
        }
    }
--- request
GET /t
--- response_body
again with it: true
again without: cdata
again, no session: true
sni=test.com
--- no_error_log
[error]



=== TEST 16: sslhandshake is refused on request sockets
--- config
    location = /t {
        content_by_lua_block {
            local sock = assert(ngx.req.socket())
            ngx.say(sock.sslhandshake)
            ngx.say(pcall(ngx.socket.tcp().sslhandshake, sock))
        }
    }
--- request
POST /t
hello
--- response_body
nil
truenilnot supported for downstream sockets



=== TEST 17: lua_ssl_protocols: names are case-insensitive, as nginx's own bitmask directives
--- config
    lua_ssl_protocols TLSV1.2;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:sslhandshake(false))
            ngx.print((http_get(sock, "test.com"):match("proto=%S+")))
        }
    }
--- request
GET /t
--- response_body chomp
proto=TLSv1.2
--- no_error_log
[error]
[emerg]
