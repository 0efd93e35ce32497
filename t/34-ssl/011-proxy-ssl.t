# proxy_ssl_certificate_by_lua* and proxy_ssl_verify_by_lua* on stock
# nginx: the handlers run to completion inside OpenSSL's callbacks of the
# upstream handshake (no yielding), against a TLS backend of the same
# nginx that requires a client certificate.
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(backend.test client.test other.test));

our $HttpConfig = <<'_EOC_';
    init_by_lua_block {
        local function slurp(name)
            local f = assert(io.open("$TEST_NGINX_SSL_DIR/" .. name, "rb"))
            local s = f:read("*a")
            f:close()
            return s
        end
        client_crt_pem = slurp("client.test.crt")
        client_key_pem = slurp("client.test.key")
        client_crt_der = slurp("client.test.crt.der")
        client_key_der = slurp("client.test.key.der")
        backend_sha1 = ngx.sha1_bin(slurp("backend.test.crt.der"))
        local ffi = require "ffi"
        ffi.cdef [[ int i2d_X509(void *x, unsigned char **out); ]]
        function der_of(x509)
            local n = ffi.C.i2d_X509(x509, nil)
            local buf = ffi.new("unsigned char[?]", n)
            local p = ffi.new("unsigned char *[1]", buf)
            ffi.C.i2d_X509(x509, p)
            return ffi.string(buf, n)
        end
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_SSL_DIR/backend.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/backend.test.key;
        ssl_verify_client on;
        ssl_client_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        location / {
            return 200 "client: $ssl_client_s_dn\n";
        }
    }
_EOC_

plan 'no_plan';
no_long_string();
run_tests();

__DATA__

=== TEST 1: proxy_ssl_certificate_by_lua_block: a client certificate chosen by Lua (PEM parsed with ngx.ssl) reaches the backend; phase, ngx.var and ngx.ctx work there
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_certificate_by_lua_block {
            local ssl = require "ngx.ssl"
            local pc = require "ngx.ssl.proxysslcert"
            ngx.log(ngx.INFO, "phase: ", ngx.get_phase(), ", uri: ", ngx.var.uri)
            assert(pc.clear_certs())
            local cert = assert(ssl.parse_pem_cert(client_crt_pem))
            local key = assert(ssl.parse_pem_priv_key(client_key_pem))
            assert(pc.set_cert(cert))
            assert(pc.set_priv_key(key))
            ngx.ctx.picked = "client.test"
        }
        header_filter_by_lua_block {
            ngx.header["X-Picked"] = ngx.ctx.picked
        }
    }
--- request
GET /t
--- response_body
client: CN=client.test
--- response_headers
X-Picked: client.test
--- error_log
phase: proxy_ssl_cert, uri: /t
--- no_error_log
[error]



=== TEST 2: proxy_ssl_certificate_by_lua_block: DER forms (set_der_cert, set_der_priv_key); bad DER gives nil and upstream's error
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_certificate_by_lua_block {
            local pc = require "ngx.ssl.proxysslcert"
            local ok, err = pc.set_der_cert("garbage")
            ngx.log(ngx.INFO, "bad der: ", tostring(ok), " ", err)
            assert(pc.set_der_cert(client_crt_der))
            assert(pc.set_der_priv_key(client_key_der))
        }
    }
--- request
GET /t
--- response_body
client: CN=client.test
--- error_log
bad der: nil d2i_X509_bio() failed
--- no_error_log
[error]



=== TEST 3: a location without the handlers (its TLS context may be shared with one that has them, as nginx 1.28 does): no client certificate, the backend refuses
--- http_config eval: $::HttpConfig
--- config
    # At server level: the locations below set no proxy_ssl_* and share the
    # server's TLS context on 1.28 (and no session is kept to leak at exit).
    proxy_ssl_session_reuse off;
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
    location = /lua {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_certificate_by_lua_block {
            ngx.log(ngx.ERR, "cert handler ran")
        }
        proxy_ssl_verify_by_lua_block {
            ngx.log(ngx.ERR, "verify handler ran")
        }
    }
--- request
GET /t
--- error_code: 400
--- response_body_like: No required SSL certificate was sent
--- no_error_log
handler ran



=== TEST 4: proxy_ssl_verify_by_lua_block: OpenSSL's verification skipped, the backend accepted by fingerprint (get_verify_cert, get_verify_result, set_verify_result)
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_verify on;
        proxy_ssl_name backend.test;
        proxy_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/other.test.crt;
        proxy_ssl_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SSL_DIR/client.test.key;
        lua_upstream_skip_openssl_default_verify on;
        proxy_ssl_verify_by_lua_block {
            local pv = require "ngx.ssl.proxysslverify"
            ngx.log(ngx.INFO, "phase: ", ngx.get_phase(), ", result before: ", pv.get_verify_result())
            local cert = assert(pv.get_verify_cert())
            if ngx.sha1_bin(der_of(cert)) == backend_sha1 then
                assert(pv.set_verify_result(0))
                ngx.log(ngx.INFO, "fingerprint matches, result: ", pv.get_verify_result())
            else
                pv.set_verify_result(23)
            end
        }
    }
--- request
GET /t
--- response_body
client: CN=client.test
--- error_log
phase: proxy_ssl_verify, result before: 0
fingerprint matches, result: 0
--- no_error_log
[error]



=== TEST 5: proxy_ssl_verify_by_lua_block: a rejected fingerprint (set_verify_result(23)) fails the upstream with nginx's verify error: 502
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_verify on;
        proxy_ssl_name backend.test;
        proxy_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/all.crt;
        proxy_ssl_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SSL_DIR/client.test.key;
        proxy_ssl_verify_by_lua_block {
            local pv = require "ngx.ssl.proxysslverify"
            local cert = assert(pv.get_verify_cert())
            if ngx.sha1_bin(der_of(cert)) ~= "wanted" then
                assert(pv.set_verify_result(23))
            end
        }
    }
--- request
GET /t
--- error_code: 502
--- error_log
upstream SSL certificate verify error: (23:certificate revoked)



=== TEST 6: proxy_ssl_verify_by_lua: OpenSSL's verification runs first unless skipped; with proxy_ssl_verify its verdict is the handler's get_verify_result, and nginx fails the upstream on it
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_verify on;
        proxy_ssl_name backend.test;
        proxy_ssl_trusted_certificate $TEST_NGINX_SSL_DIR/other.test.crt;
        proxy_ssl_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SSL_DIR/client.test.key;
        proxy_ssl_verify_by_lua_block {
            local pv = require "ngx.ssl.proxysslverify"
            ngx.log(ngx.INFO, "openssl said: ", pv.get_verify_result())
        }
    }
--- request
GET /t
--- error_code: 502
--- error_log eval
[
qr/openssl said: 18\b/,
qr/upstream SSL certificate verify error: \(18:self[- ]signed certificate\)/,
]



=== TEST 7: proxy_ssl_verify_by_lua: OpenSSL's failing verification (VerifyMode Peer, nothing trusted) fails the handshake before the handler
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_conf_command VerifyMode Peer;
        proxy_ssl_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SSL_DIR/client.test.key;
        proxy_ssl_verify_by_lua_block {
            ngx.log(ngx.ERR, "handler ran")
        }
    }
--- request
GET /t
--- error_code: 502
--- error_log eval
qr/SSL_do_handshake\(\) failed .*certificate verify failed/
--- no_error_log
handler ran



=== TEST 8: proxy_ssl_verify_by_lua: ngx.sleep cannot yield there: the clear error, the handshake fails, 502
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_conf_command VerifyMode Peer;
        proxy_ssl_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SSL_DIR/client.test.key;
        lua_upstream_skip_openssl_default_verify on;
        proxy_ssl_verify_by_lua_block {
            ngx.sleep(0.001)
            ngx.log(ngx.ERR, "should not get here")
        }
    }
--- request
GET /t
--- error_code: 502
--- error_log
API disabled in the context of proxy_ssl_verify_by_lua*
--- no_error_log
should not get here



=== TEST 9: proxy_ssl_certificate_by_lua: light threads, semaphore waits and a cosocket connect cannot yield there: the clear error, 502
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_certificate_by_lua_block {
            local ok, err = pcall(ngx.thread.spawn, function() end)
            ngx.log(ngx.INFO, "spawn: ", ok, " ", err)
            local sema = require("ngx.semaphore").new()
            ok, err = sema:wait(1)
            ngx.log(ngx.INFO, "sema wait: ", ok, " ", err)
            local sock = ngx.socket.tcp()
            local ok, err = sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1)
            ngx.log(ngx.ERR, "should not get here: ", err)
        }
    }
--- request
GET /t
--- error_code: 502
--- error_log eval
[
qr/spawn: false .*API disabled in the context of proxy_ssl_certificate_by_lua\*/,
qr/sema wait: nil API disabled in the context of proxy_ssl_certificate_by_lua\*/,
qr/lua entry thread aborted: runtime error: .*API disabled in the context of proxy_ssl_certificate_by_lua\*/,
]
--- no_error_log
should not get here



=== TEST 10: proxy_ssl_verify_by_lua: a Lua error fails the handshake (502) with its traceback; shared dicts work there
--- http_config eval: $::HttpConfig . "lua_shared_dict d 1m;"
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_conf_command VerifyMode Peer;
        proxy_ssl_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SSL_DIR/client.test.key;
        lua_upstream_skip_openssl_default_verify on;
        proxy_ssl_verify_by_lua_block {
            ngx.shared.d:incr("n", 1, 0)
            ngx.log(ngx.INFO, "count: ", ngx.shared.d:get("n"))
            error("bad backend")
        }
    }
--- request
GET /t
--- error_code: 502
--- error_log eval
[
qr/count: 1\b/,
qr/proxy_ssl_verify_by_lua\(nginx.conf:\d+\):4: bad backend/,
"stack traceback:",
qr/SSL_do_handshake\(\) failed .*certificate verify failed/,
]



=== TEST 11: proxy_ssl_verify_by_lua: ngx.exit(ngx.ERROR) ends the handler and fails the handshake; ngx.exit(ngx.OK) accepts
--- http_config eval: $::HttpConfig
--- config
    location = /bad {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_conf_command VerifyMode Peer;
        proxy_ssl_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SSL_DIR/client.test.key;
        lua_upstream_skip_openssl_default_verify on;
        proxy_ssl_verify_by_lua_block {
            ngx.exit(ngx.ERROR)
            ngx.log(ngx.ERR, "should not get here")
        }
    }
    location = /good {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        proxy_ssl_conf_command VerifyMode Peer;
        proxy_ssl_certificate $TEST_NGINX_SSL_DIR/client.test.crt;
        proxy_ssl_certificate_key $TEST_NGINX_SSL_DIR/client.test.key;
        lua_upstream_skip_openssl_default_verify on;
        proxy_ssl_verify_by_lua_block {
            ngx.exit(ngx.OK)
        }
    }
    location = /t {
        content_by_lua_block {
            local bad = ngx.location.capture("/bad")
            local good = ngx.location.capture("/good")
            ngx.print(bad.status, " ", good.status, " ", good.body)
        }
    }
--- request
GET /t
--- response_body
502 200 client: CN=client.test
--- no_error_log
should not get here



=== TEST 12: ngx.ssl.proxysslverify / proxysslcert outside their handlers: upstream's errors
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        content_by_lua_block {
            local pv = require "ngx.ssl.proxysslverify"
            local pc = require "ngx.ssl.proxysslcert"
            for _, f in ipairs{"get_verify_cert", "get_verify_result", "set_verify_result"} do
                local ok, err = pcall(pv[f], 0)
                ngx.say(f, ": ", ok, " ", err)
            end
            ngx.say("clear_certs: ", pc.clear_certs())
            ngx.say("set_der_cert: ", pc.set_der_cert(client_crt_der))
        }
    }
--- request
GET /t
--- response_body_like
get_verify_cert: false .*API disabled in the current context
get_verify_result: false .*API disabled in the current context
set_verify_result: false .*API disabled in the current context
clear_certs: nilbad request
set_der_cert: nilbad request
--- no_error_log
[error]



=== TEST 13: ngx.ssl.proxysslverify / proxysslcert outside requests: "no request found" raised
--- http_config
    init_worker_by_lua_block {
        local pv = require "ngx.ssl.proxysslverify"
        local pc = require "ngx.ssl.proxysslcert"
        local ok, err = pcall(pv.get_verify_cert)
        ngx.log(ngx.WARN, "get_verify_cert: ", ok, " ", err)
        ok, err = pcall(pc.clear_certs)
        ngx.log(ngx.WARN, "clear_certs: ", ok, " ", err)
    }
--- config
    location = /t {
        return 200;
    }
--- request
GET /t
--- error_log eval
[
qr/get_verify_cert: false .*no request found/,
qr/clear_certs: false .*no request found/,
]
--- no_error_log
[error]



=== TEST 14: proxy_ssl_verify_by_lua_block: refused with proxy_pass http:// (no TLS context to hook)
--- config
    location = /t {
        proxy_pass http://127.0.0.1:1/;
        proxy_ssl_verify_by_lua_block {
            ngx.log(ngx.INFO, "never")
        }
    }
--- must_die
--- error_log
proxy_ssl_verify_by_lua* should be used with proxy_pass https url



=== TEST 15: proxy_ssl_certificate_by_lua_block: location only, as upstream
--- config
    proxy_ssl_certificate_by_lua_block {
        ngx.log(ngx.INFO, "never")
    }
    location = /t {
        return 200;
    }
--- must_die
--- error_log
"proxy_ssl_certificate_by_lua_block" directive is not allowed here



=== TEST 16: proxy_ssl_certificate_by_lua_file and proxy_ssl_verify_by_lua_file: the file forms, chunk names from the file
--- http_config eval: $::HttpConfig
--- config
    location = /t {
        proxy_pass https://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        proxy_ssl_session_reuse off;
        lua_upstream_skip_openssl_default_verify on;
        proxy_ssl_certificate_by_lua_file html/cert.lua;
        proxy_ssl_verify_by_lua_file html/verify.lua;
    }
--- user_files
>>> cert.lua
local pc = require "ngx.ssl.proxysslcert"
assert(pc.set_der_cert(client_crt_der))
assert(pc.set_der_priv_key(client_key_der))
ngx.log(ngx.INFO, "cert file ran in ", ngx.get_phase())
>>> verify.lua
local pv = require "ngx.ssl.proxysslverify"
ngx.log(ngx.INFO, "verify file ran in ", ngx.get_phase(), ", result ", pv.get_verify_result())
--- request
GET /t
--- response_body
client: CN=client.test
--- error_log eval
[
qr/cert\.lua:4: cert file ran in proxy_ssl_cert/,
qr/verify\.lua:2: verify file ran in proxy_ssl_verify, result 0/,
]
--- no_error_log
[error]
