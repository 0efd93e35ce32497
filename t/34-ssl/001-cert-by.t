# ssl_certificate_by_lua*: the handler picks the certificate during real
# handshakes (cosocket, openssl s_client and curl clients), may yield, and
# fails the handshake on errors. Certificates are made by t/lib/TestSslCerts.pm.
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test b.test c.test fallback.test));
# A PKI with an intermediate CA (root.crt signs issuer.crt, which signs
# ocsp.test; ocsp.test.chain.crt is leaf then issuer); no responder runs.
$ENV{TEST_NGINX_PKI_DIR} = TestSslCerts::make_ocsp_pki(TestSslCerts::free_port());

# Every block gets a TLS server on RAND_PORT_1 whose handler is the block's
# `ssl_handler` section, a trust store of a/b/c (not fallback), and
# helpers: hs(name, verify) does a cosocket handshake and a request;
# s_client(name, ...) runs `openssl s_client -brief` and returns its
# report.
add_block_preprocessor(sub {
    my $block = shift;
    my $handler = $block->ssl_handler // 'local ssl = require "ngx.ssl"';
    my $server = <<"_EOC_";
    lua_shared_dict certs 1m;
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        server_name _;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate \$TEST_NGINX_SSL_DIR/fallback.test.crt;
        ssl_certificate_key \$TEST_NGINX_SSL_DIR/fallback.test.key;
        ssl_certificate_by_lua_block {
$handler
        }
        location / {
            return 200 "sni=\$ssl_server_name proto=\$ssl_protocol";
        }
    }
    init_by_lua_block {
        DIR = "\$TEST_NGINX_SSL_DIR"
        PKI = "\$TEST_NGINX_PKI_DIR"
        PORT = \$TEST_NGINX_RAND_PORT_1
        function read_file(path)
            local f = assert(io.open(path, "rb"))
            local s = f:read("*a")
            f:close()
            return s
        end
        function hs(name, verify)
            local sock = ngx.socket.tcp()
            sock:settimeout(3000)
            local ok, err = sock:connect("127.0.0.1", PORT)
            if not ok then
                return nil, "connect: " .. err
            end
            local sess, err = sock:sslhandshake(nil, name, verify)
            if not sess then
                sock:close()
                return nil, err
            end
            sock:send("GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            local resp = sock:receive("*a")
            sock:close()
            return resp and resp:match("\\r\\n\\r\\n(.*)")
        end
        function run(args)
            local proc = assert(require("ngx.pipe").spawn(args, { merge_stderr = true }))
            proc:set_timeouts(3000, 3000, 3000)
            proc:shutdown("stdin")
            local out = proc:stdout_read_all()
            proc:wait()
            return out or ""
        end
        function s_client(name, ...)
            return run({ "openssl", "s_client", "-brief", "-connect",
                         "127.0.0.1:" .. PORT, "-servername", name, ... })
        end
    }
_EOC_
    $block->set_value("http_config", $server . ($block->http_config // ""));
    $block->set_value("request", "GET /t") unless defined $block->request;
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ssl_certificate_by_lua_block: the certificate is chosen by SNI among three (DER)
--- ssl_handler
            local ssl = require "ngx.ssl"
            local name = ssl.server_name()
            assert(ssl.clear_certs())
            assert(ssl.set_der_cert(read_file(DIR .. "/" .. name .. ".crt.der")))
            assert(ssl.set_der_priv_key(read_file(DIR .. "/" .. name .. ".key.der")))
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
    location = /t {
        content_by_lua_block {
            for _, name in ipairs({ "a.test", "b.test", "c.test" }) do
                ngx.say(name, ": ", hs(name, true))
            end
            -- Verification names the certificate: b.test's is not a.test's.
            local sock = ngx.socket.tcp()
            sock:connect("127.0.0.1", PORT)
            local ok, err = sock:sslhandshake(nil, "b.test", true)
            ngx.say("b.test served: ", ok and "yes" or err)
        }
    }
--- response_body
a.test: sni=a.test proto=TLSv1.3
b.test: sni=b.test proto=TLSv1.3
c.test: sni=c.test proto=TLSv1.3
b.test served: yes
--- no_error_log
[error]
[alert]



=== TEST 2: ssl_certificate_by_lua_block: openssl s_client and curl see the certificate of their name
--- ssl_handler
            local ssl = require "ngx.ssl"
            local name = ssl.server_name() or "fallback.test"
            assert(ssl.clear_certs())
            assert(ssl.set_der_cert(read_file(DIR .. "/" .. name .. ".crt.der")))
            assert(ssl.set_der_priv_key(read_file(DIR .. "/" .. name .. ".key.der")))
--- config
    location = /t {
        content_by_lua_block {
            local out = s_client("c.test")
            ngx.say(out:match("Peer certificate: ([^\n]*)"))
            out = run({ "curl", "-sv", "--cacert", DIR .. "/all.crt",
                        "--resolve", "b.test:" .. PORT .. ":127.0.0.1",
                        "https://b.test:" .. PORT .. "/" })
            ngx.say(out:match("subject: ([^\n]*)"))
            ngx.say(out:match("sni=[^\n]*"))
        }
    }
--- response_body
CN = c.test
CN=b.test
sni=b.test proto=TLSv1.3
--- no_error_log
[error]
[alert]



=== TEST 3: ssl_certificate_by_lua_block: the handler yields (ngx.sleep), then sets a PEM certificate it caches in a shared dict
--- ssl_handler
            local ssl = require "ngx.ssl"
            local name = ssl.server_name()
            local certs = ngx.shared.certs
            local pem = certs:get(name)
            if pem then
                ngx.log(ngx.INFO, "cert of ", name, " from the cache, phase ", ngx.get_phase())
            else
                ngx.sleep(0.05)
                pem = read_file(DIR .. "/" .. name .. ".crt")
                certs:set(name, pem)
                ngx.log(ngx.INFO, "cert of ", name, " loaded after a sleep")
            end
            assert(ssl.clear_certs())
            assert(ssl.set_cert(assert(ssl.parse_pem_cert(pem))))
            assert(ssl.set_priv_key(assert(ssl.parse_pem_priv_key(read_file(DIR .. "/" .. name .. ".key")))))
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
    location = /t {
        content_by_lua_block {
            ngx.say(hs("a.test", true))
            ngx.say(hs("a.test", true))
            ngx.say(hs("c.test", true))
        }
    }
--- response_body
sni=a.test proto=TLSv1.3
sni=a.test proto=TLSv1.3
sni=c.test proto=TLSv1.3
--- grep_error_log eval: qr/cert of \S+ (?:from the cache, phase \w+|loaded after a sleep)/
--- grep_error_log_out
cert of a.test loaded after a sleep
cert of a.test from the cache, phase ssl_cert
cert of c.test loaded after a sleep
--- no_error_log
[error]
[alert]



=== TEST 4: ssl_certificate_by_lua_block: the certificate comes from a TCP peer (a cosocket inside the handshake)
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /cert {
            content_by_lua_block {
                ngx.print(read_file(DIR .. "/" .. ngx.var.arg_name .. ".crt"))
            }
        }
    }
--- ssl_handler
            local ssl = require "ngx.ssl"
            local name = ssl.server_name()
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            assert(sock:send("GET /cert?name=" .. name .. " HTTP/1.0\r\n\r\n"))
            local resp = assert(sock:receive("*a"))
            sock:close()
            local pem = resp:match("\r\n\r\n(.*)")
            assert(ssl.clear_certs())
            assert(ssl.set_der_cert(assert(ssl.cert_pem_to_der(pem))))
            assert(ssl.set_der_priv_key(assert(ssl.priv_key_pem_to_der(read_file(DIR .. "/" .. name .. ".key")))))
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
    location = /t {
        content_by_lua_block {
            ngx.say(hs("b.test", true))
            ngx.say(s_client("c.test"):match("Peer certificate: ([^\n]*)"))
        }
    }
--- response_body
sni=b.test proto=TLSv1.3
CN = c.test
--- no_error_log
[error]
[alert]



=== TEST 5: ssl_certificate_by_lua_block: a Lua error fails the handshake and logs the traceback
--- ssl_handler
            local ssl = require "ngx.ssl"
            ngx.sleep(0.01)
            error("no certificate for " .. tostring(ssl.server_name()))
--- config
    location = /t {
        content_by_lua_block {
            local body, err = hs("a.test", false)
            ngx.say(body, " ", err)
        }
    }
--- response_body
nil handshake failed
--- error_log eval
[
qr/\[error\] .*lua entry thread aborted: runtime error: ssl_certificate_by_lua\(nginx.conf:\d+\):\d+: no certificate for a.test$/,
qr/^\tssl_certificate_by_lua\(nginx.conf:\d+\):\d+: in main chunk, context: ssl_certificate_by_lua\*/,
qr/\[info\] .*SSL_do_handshake\(\) failed \(SSL: .*cert cb error\)/,
qr/context: ssl_certificate_by_lua\*, client: 127.0.0.1, server: 127.0.0.1:\d+/,
]



=== TEST 6: ssl_certificate_by_lua_block: ngx.exit(ngx.ERROR) fails the handshake, ngx.exit(ngx.OK) goes on with the fallback certificate
--- ssl_handler
            local ssl = require "ngx.ssl"
            if ssl.server_name() == "a.test" then
                ngx.exit(ngx.ERROR)
            end
            ngx.exit(ngx.OK)
            error("not reached")
--- config
    location = /t {
        content_by_lua_block {
            local body, err = hs("a.test", false)
            ngx.say(body, " ", err)
            ngx.say(hs("b.test", false))
            ngx.say(s_client("b.test"):match("Peer certificate: ([^\n]*)"))
        }
    }
--- response_body
nil handshake failed
sni=b.test proto=TLSv1.3
CN = fallback.test
--- no_error_log
lua entry thread aborted
not reached



=== TEST 7: ssl_certificate_by_lua_block: TLS 1.2 and TLS 1.3 handshakes, the version seen by the handler
--- ssl_handler
            local ssl = require "ngx.ssl"
            ngx.shared.certs:set("version", ssl.get_tls1_version_str())
            ngx.shared.certs:set("version_num", ssl.get_tls1_version())
--- config
    location = /t {
        content_by_lua_block {
            local out = s_client("a.test", "-tls1_2")
            ngx.say(out:match("Protocol version: ([^\n]*)"), " ",
                    ngx.shared.certs:get("version"), " ",
                    string.format("%#x", ngx.shared.certs:get("version_num")))
            out = s_client("a.test", "-tls1_3")
            ngx.say(out:match("Protocol version: ([^\n]*)"), " ",
                    ngx.shared.certs:get("version"), " ",
                    string.format("%#x", ngx.shared.certs:get("version_num")))
        }
    }
--- response_body
TLSv1.2 TLSv1.2 0x303
TLSv1.3 TLSv1.3 0x304
--- no_error_log
[error]



=== TEST 8: ssl_certificate_by_lua_block: the client leaves while the handler sleeps: the handler stops, the next handshake works
--- ssl_handler
            local ssl = require "ngx.ssl"
            if ssl.server_name() == "b.test" then
                ngx.log(ngx.INFO, "handler sleeps")
                ngx.sleep(0.5)
                ngx.log(ngx.ERR, "handler woke")
            end
--- config
    location = /t {
        content_by_lua_block {
            local proc = require("ngx.pipe").spawn({ "openssl", "s_client",
                "-connect", "127.0.0.1:" .. PORT, "-servername", "b.test" })
            ngx.sleep(0.2)
            proc:kill(9)
            proc:wait()
            ngx.sleep(0.6)
            ngx.say(hs("a.test", false))
        }
    }
--- response_body
sni=a.test proto=TLSv1.3
--- error_log
handler sleeps
--- no_error_log
handler woke
[alert]



=== TEST 9: ssl_certificate_by_lua_block: behind the PROXY protocol (v1), the handler still runs first and may yield
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl proxy_protocol;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_SSL_DIR/fallback.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/fallback.test.key;
        ssl_certificate_by_lua_block {
            local ssl = require "ngx.ssl"
            local name = ssl.server_name()
            ngx.sleep(0.01)
            assert(ssl.clear_certs())
            assert(ssl.set_der_cert(read_file(DIR .. "/" .. name .. ".crt.der")))
            assert(ssl.set_der_priv_key(read_file(DIR .. "/" .. name .. ".key.der")))
        }
        location / {
            return 200 "pp=$proxy_protocol_addr sni=$ssl_server_name";
        }
    }
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
    location = /t {
        content_by_lua_block {
            for _, name in ipairs({ "b.test", "c.test" }) do
                local sock = ngx.socket.tcp()
                sock:settimeout(3000)
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
                assert(sock:send("PROXY TCP4 10.1.2.3 127.0.0.1 1111 443\r\n"))
                local ok, err = sock:sslhandshake(nil, name, true)
                if not ok then
                    ngx.say(name, ": ", err)
                else
                    sock:send("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                    ngx.say(name, ": ", sock:receive("*a"):match("\r\n\r\n(.*)"))
                end
                sock:close()
            end
        }
    }
--- response_body
b.test: pp=10.1.2.3 sni=b.test
c.test: pp=10.1.2.3 sni=c.test
--- no_error_log
[error]
[alert]



=== TEST 10: ssl_certificate_by_lua_block: a resumed TLS 1.2 session skips the handler, as OpenSSL skips the callback
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_protocols TLSv1.2;
        ssl_session_cache shared:S:1m;
        ssl_session_tickets off;
        ssl_certificate $TEST_NGINX_SSL_DIR/fallback.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/fallback.test.key;
        ssl_certificate_by_lua_block {
            ngx.shared.certs:incr("runs", 1, 0)
        }
        location / {
            content_by_lua_block {
                ngx.print("reused=", tostring(require("ngx.ssl").ssl_session_reused()))
            }
        }
    }
--- config
    lua_ssl_protocols TLSv1.2;
    location = /t {
        content_by_lua_block {
            local sess
            for i = 1, 2 do
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
                sess = assert(sock:sslhandshake(sess, "a.test", false))
                sock:send("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                ngx.say(sock:receive("*a"):match("\r\n\r\n(.*)"), " runs=",
                        ngx.shared.certs:get("runs"))
                sock:close()
            end
        }
    }
--- response_body
reused=false runs=1
reused=true runs=1
--- no_error_log
[error]



=== TEST 11: ssl_certificate_by_lua_block: a key that does not match fails at the call; a later call needing the handshake's state sees the certificate set before it
--- ssl_handler
            local ssl = require "ngx.ssl"
            local name = ssl.server_name()
            assert(ssl.clear_certs())
            assert(ssl.set_der_cert(read_file(DIR .. "/" .. name .. ".crt.der")))
            local ok, err = ssl.set_der_priv_key(read_file(DIR .. "/b.test.key.der"))
            ngx.log(ngx.WARN, "wrong key: ", tostring(ok), " ", err)
            ngx.log(ngx.WARN, "version: ", ssl.get_tls1_version_str())
            assert(ssl.set_der_priv_key(read_file(DIR .. "/" .. name .. ".key.der")))
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
    location = /t {
        content_by_lua_block {
            ngx.say(hs("a.test", true))
        }
    }
--- response_body
sni=a.test proto=TLSv1.3
--- error_log
wrong key: nil SSL_use_PrivateKey() failed
version: TLSv1.3
--- no_error_log
[error]
[alert]



=== TEST 12: ssl_certificate_by_lua_block: two handlers waiting at once each check their key against their own certificate
--- ssl_handler
            local ssl = require "ngx.ssl"
            local name = ssl.server_name()
            assert(ssl.clear_certs())
            assert(ssl.set_der_cert(read_file(DIR .. "/" .. name .. ".crt.der")))
            ngx.sleep(name == "a.test" and 0.2 or 0.01)
            assert(ssl.set_der_priv_key(read_file(DIR .. "/" .. name .. ".key.der")))
            ngx.log(ngx.WARN, "key of ", name, " set")
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
    location = /t {
        content_by_lua_block {
            local a = ngx.thread.spawn(hs, "a.test", true)
            ngx.sleep(0.05)
            local b = ngx.thread.spawn(hs, "b.test", true)
            local _, ra = ngx.thread.wait(a)
            local _, rb = ngx.thread.wait(b)
            ngx.say(ra)
            ngx.say(rb)
        }
    }
--- response_body
sni=a.test proto=TLSv1.3
sni=b.test proto=TLSv1.3
--- grep_error_log eval: qr/key of \S+ set/
--- grep_error_log_out
key of b.test set
key of a.test set
--- no_error_log
[error]
[alert]



=== TEST 13: ssl_certificate_by_lua_block: the handler of the server the name chooses runs, as nginx chooses it; a server that rejects the name runs none
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        server_name default.test;
        ssl_certificate $TEST_NGINX_SSL_DIR/fallback.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/fallback.test.key;
        ssl_certificate_by_lua_block { ngx.log(ngx.WARN, "handler of default.test") }
        location / { return 200 "server default.test"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        server_name *.b.test;
        ssl_certificate $TEST_NGINX_SSL_DIR/fallback.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/fallback.test.key;
        ssl_certificate_by_lua_block { ngx.log(ngx.WARN, "handler of *.b.test") }
        location / { return 200 "server *.b.test"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        server_name r.test;
        ssl_reject_handshake on;
        ssl_certificate_by_lua_block { ngx.log(ngx.WARN, "handler of r.test") }
    }
--- config
    location = /t {
        content_by_lua_block {
            for _, name in ipairs({ "x.b.test", "other.test", "r.test" }) do
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
                local ok, err = sock:sslhandshake(nil, name, false)
                if ok then
                    sock:send("GET / HTTP/1.0\r\nHost: " .. name .. "\r\n\r\n")
                    ngx.say(name, ": ", sock:receive("*a"):match("\r\n\r\n(.*)"))
                else
                    ngx.say(name, ": ", err)
                end
                sock:close()
            end
        }
    }
--- response_body
x.b.test: server *.b.test
other.test: server default.test
r.test: handshake failed
--- grep_error_log eval: qr/handler of [^,\s]+/
--- grep_error_log_out
handler of *.b.test
handler of default.test
--- no_error_log
[alert]



=== TEST 14: ssl_certificate_by_lua_block: with nginx's own client certificate check (ssl_verify_client), the handler runs and nginx still asks for a certificate
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        server_name v.test;
        ssl_certificate $TEST_NGINX_SSL_DIR/fallback.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/fallback.test.key;
        ssl_verify_client optional;
        ssl_client_certificate $TEST_NGINX_SSL_DIR/all.crt;
        ssl_certificate_by_lua_block {
            local ssl = require "ngx.ssl"
            ngx.log(ngx.WARN, "handler for ", ssl.server_name())
        }
        location / { return 200 "verify=$ssl_client_verify"; }
    }
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            assert(sock:sslhandshake(nil, "v.test", false))
            sock:send("GET / HTTP/1.0\r\nHost: v.test\r\n\r\n")
            ngx.say(sock:receive("*a"):match("\r\n\r\n(.*)"))
            sock:close()
        }
    }
--- response_body
verify=NONE
--- error_log
handler for v.test
--- no_error_log
[error]
[alert]



=== TEST 15: ssl_certificate_by_lua_block: certificates and keys parsed once and set on every handshake: each name gets its pair, a chain's issuer is sent, a key of another pair still fails at the call
--- ssl_handler
            local ssl = require "ngx.ssl"
            local pairs = package.loaded.test_pairs
            if not pairs then
                pairs = {}
                for _, n in ipairs({ "a.test", "b.test" }) do
                    pairs[n] = { assert(ssl.parse_pem_cert(read_file(DIR .. "/" .. n .. ".crt"))),
                                 assert(ssl.parse_pem_priv_key(read_file(DIR .. "/" .. n .. ".key"))) }
                end
                pairs["ocsp.test"] = {
                    assert(ssl.parse_pem_cert(read_file(PKI .. "/ocsp.test.chain.crt"))),
                    assert(ssl.parse_pem_priv_key(read_file(PKI .. "/ocsp.test.key"))) }
                package.loaded.test_pairs = pairs
            end
            local name = ssl.server_name()
            local p = pairs[name]
            assert(ssl.clear_certs())
            assert(ssl.set_cert(p[1]))
            if name == "b.test" then
                local ok, err = ssl.set_priv_key(pairs["a.test"][2])
                ngx.log(ngx.WARN, "a.test's key for b.test: ", tostring(ok), " ", err)
            end
            assert(ssl.set_priv_key(p[2]))
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
    location = /t {
        content_by_lua_block {
            for _, name in ipairs({ "a.test", "b.test", "a.test", "b.test" }) do
                ngx.say(name, ": ", hs(name, true))
            end
            -- Trusting only the root, the client verifies the leaf through
            -- the issuer the server sent.
            for _ = 1, 2 do
                local out = s_client("ocsp.test", "-CAfile", PKI .. "/root.crt")
                ngx.say(out:match("Peer certificate: ([^\n]*)"), "; ",
                        out:match("Verification[^\n]*"))
            end
        }
    }
--- response_body
a.test: sni=a.test proto=TLSv1.3
b.test: sni=b.test proto=TLSv1.3
a.test: sni=a.test proto=TLSv1.3
b.test: sni=b.test proto=TLSv1.3
CN = ocsp.test; Verification: OK
CN = ocsp.test; Verification: OK
--- grep_error_log eval: qr/a.test's key for b.test: .*?failed/
--- grep_error_log_out
a.test's key for b.test: nil SSL_use_PrivateKey() failed
a.test's key for b.test: nil SSL_use_PrivateKey() failed
--- no_error_log
[error]
[alert]
