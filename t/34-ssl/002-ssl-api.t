# ngx.ssl outside the certificate handler: parsers and their errors, the
# functions in requests over TLS and over plain HTTP, the APIs the
# ssl_certificate_by_lua* context refuses.
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test b.test));

add_block_preprocessor(sub {
    my $block = shift;
    my $handler = $block->ssl_handler // 'local ssl = require "ngx.ssl"';
    my $tls_location = $block->tls_location // 'location / { return 200 "ok"; }';
    my $server = <<"_EOC_";
    lua_shared_dict log 1m;
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        server_name _;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate \$TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key \$TEST_NGINX_SSL_DIR/a.test.key;
        ssl_certificate_by_lua_block {
$handler
        }
        $tls_location
    }
    init_by_lua_block {
        DIR = "\$TEST_NGINX_SSL_DIR"
        PORT = \$TEST_NGINX_RAND_PORT_1
        function read_file(path)
            local f = assert(io.open(path, "rb"))
            local s = f:read("*a")
            f:close()
            return s
        end
        function hs(name, path)
            local sock = ngx.socket.tcp()
            sock:settimeout(3000)
            assert(sock:connect("127.0.0.1", PORT))
            local sess, err = sock:sslhandshake(nil, name, false)
            if not sess then
                sock:close()
                return nil, err
            end
            sock:send("GET " .. (path or "/") .. " HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            local resp = sock:receive("*a")
            sock:close()
            return resp and resp:match("\\r\\n\\r\\n(.*)")
        end
    }
_EOC_
    $block->set_value("http_config", $server . ($block->http_config // ""));
    $block->set_value("request", "GET /t") unless defined $block->request;
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.ssl parsers: bad PEM and DER give nil and upstream's error texts
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            ngx.say(ssl.parse_pem_cert("not a pem"))
            ngx.say(ssl.parse_der_cert("not a der"))
            ngx.say(ssl.parse_pem_priv_key("not a pem"))
            ngx.say(ssl.parse_der_priv_key("not a der"))
            ngx.say(ssl.cert_pem_to_der("not a pem"))
            ngx.say(ssl.priv_key_pem_to_der("not a pem"))
            -- A good certificate followed by garbage.
            local der = read_file(DIR .. "/a.test.crt.der")
            ngx.say(ssl.parse_der_cert(der .. "junk"))
        }
    }
--- response_body
nilPEM_read_bio_X509_AUX() failed
nild2i_X509_bio() failed
nilPEM_read_bio_PrivateKey() failed
nild2i_PrivateKey_bio() failed
nilPEM_read_bio_X509_AUX() failed
nilPEM_read_bio_PrivateKey() failed
nild2i_X509_bio() failed in rest of chain
--- no_error_log
[error]



=== TEST 2: ngx.ssl parsers: PEM to DER matches the openssl command's DER, parsed objects are cdata
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local der = ssl.cert_pem_to_der(read_file(DIR .. "/a.test.crt"))
            ngx.say("cert der: ", der == read_file(DIR .. "/a.test.crt.der"))
            local kder = ssl.priv_key_pem_to_der(read_file(DIR .. "/a.test.key"))
            ngx.say("key der: ", kder == read_file(DIR .. "/a.test.key.der"))
            ngx.say(type(ssl.parse_pem_cert(read_file(DIR .. "/a.test.crt"))), " ",
                    type(ssl.parse_der_cert(der)), " ",
                    type(ssl.parse_pem_priv_key(read_file(DIR .. "/a.test.key"))), " ",
                    type(ssl.parse_der_priv_key(kder)))
            collectgarbage()
        }
    }
--- response_body
cert der: true
key der: true
cdata cdata cdata cdata
--- no_error_log
[error]



=== TEST 3: ngx.ssl: over plain HTTP the connection functions answer "bad request"; outside requests they raise
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            ngx.say(ssl.server_name())
            ngx.say(ssl.get_tls1_version())
            ngx.say(ssl.clear_certs())
            ngx.say(ssl.set_der_cert("x"))
            ngx.say(ssl.server_port())
            ngx.say(ssl.raw_client_addr())
        }
    }
--- http_config
    init_worker_by_lua_block {
        local ssl = require "ngx.ssl"
        for _, f in ipairs({ "server_name", "clear_certs" }) do
            local ok, err = pcall(ssl[f])
            ngx.log(ngx.WARN, "init_worker ", f, ": ", ok, " ", err)
        end
    }
--- response_body
nilbad request
nilbad request
nilbad request
nilbad request
nilbad request
nilnilbad request
--- error_log eval
[qr/init_worker server_name: false \S*: no request found/,
 qr/init_worker clear_certs: false \S*: no request found/]



=== TEST 4: ngx.ssl: in a request over TLS, the connection's name, version, randoms, addresses and keying material
--- tls_location
        location / {
            content_by_lua_block {
                local ssl = require "ngx.ssl"
                ngx.say("name: ", ssl.server_name())
                ngx.say("version: ", ssl.get_tls1_version_str())
                ngx.say("port: ", ssl.server_port() == PORT)
                local addr, typ = ssl.raw_client_addr()
                ngx.say("client: ", typ, " ", #addr, " ", addr == "\127\0\0\1")
                addr, typ = ssl.raw_server_addr()
                ngx.say("server: ", typ, " ", addr == "\127\0\0\1")
                ngx.say("client random: ", #ssl.get_client_random(), " of ", ssl.get_client_random(0))
                ngx.say("server random: ", #ssl.get_server_random(16))
                ngx.say("master key: ", ssl.get_session_master_key(0))
                ngx.say("keying material: ", #ssl.export_keying_material(24, "EXPORTER-test"))
                ngx.say("with context: ", ssl.export_keying_material(16, "EXPORTER-test", "ctx")
                        ~= ssl.export_keying_material(16, "EXPORTER-test"))
                ngx.say("negative sizes: ", #ssl.get_client_random(-1), " ",
                        tostring(select(2, ssl.export_keying_material(-1, "EXPORTER-test"))))
                ngx.say("reused: ", ssl.ssl_session_reused())
                ngx.say("pointer: ", type(ssl.get_req_ssl_pointer()))
            }
        }
--- config
    location = /t {
        content_by_lua_block {
            ngx.print(hs("b.test"))
        }
    }
--- response_body
name: b.test
version: TLSv1.3
port: true
client: inet 4 true
server: inet true
client random: 32 of 32
server random: 16
master key: 48
keying material: 24
with context: true
negative sizes: 32 SSL_export_keying_material() failed
reused: false
pointer: cdata
--- no_error_log
[error]



=== TEST 5: ssl_certificate_by_lua_block: APIs of other contexts are refused with upstream's error
--- ssl_handler
            local log = ngx.shared.log
            local ok, err = pcall(ngx.say, "hi")
            log:set("say", err)
            ok, err = pcall(ngx.req.get_headers)
            log:set("get_headers", err)
            ok, err = pcall(ngx.exec, "/x")
            log:set("exec", err)
            log:set("phase", ngx.get_phase())
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(hs("a.test"))
            local log = ngx.shared.log
            for _, k in ipairs({ "phase", "say", "get_headers", "exec" }) do
                ngx.say(k, ": ", log:get(k))
            end
        }
    }
--- response_body
ok
phase: ssl_cert
say: API disabled in the context of ssl_certificate_by_lua*
get_headers: API disabled in the context of ssl_certificate_by_lua*
exec: API disabled in the context of ssl_certificate_by_lua*
--- no_error_log
[error]



=== TEST 6: ssl_certificate_by_lua_block: a key that does not match the certificate is refused at once
--- ssl_handler
            local ssl = require "ngx.ssl"
            ssl.clear_certs()
            assert(ssl.set_der_cert(read_file(DIR .. "/b.test.crt.der")))
            local ok, err = ssl.set_der_priv_key(read_file(DIR .. "/a.test.key.der"))
            ngx.shared.log:set("mismatch", tostring(ok) .. " " .. tostring(err))
            ok, err = ssl.set_der_cert("junk")
            ngx.shared.log:set("junk", tostring(ok) .. " " .. tostring(err))
            ngx.exit(ngx.ERROR)
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(hs("b.test"))
            ngx.say(ngx.shared.log:get("mismatch"))
            ngx.say(ngx.shared.log:get("junk"))
        }
    }
--- response_body
nilhandshake failed
nil SSL_use_PrivateKey() failed
nil d2i_X509_bio() failed



=== TEST 7: ssl_certificate_by_lua_file: the handler comes from a file
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        ssl_certificate_by_lua_file html/cert.lua;
        location / { return 200 "file server"; }
    }
--- user_files
>>> cert.lua
ngx.shared.log:set("file", "ran for " .. require("ngx.ssl").server_name())
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
            assert(sock:sslhandshake(nil, "b.test", false))
            sock:close()
            ngx.say(ngx.shared.log:get("file"))
        }
    }
--- response_body
ran for b.test
--- no_error_log
[error]



=== TEST 8: ssl_certificate_by_lua_block: a server without TLS refuses the directive
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        ssl_certificate_by_lua_block { }
    }
--- config
--- must_die
--- error_log
no ssl configured for the server



=== TEST 9: ngx.ssl.verify_client: the handler asks for a client certificate trusted by the given chain
--- ssl_handler
            local ssl = require "ngx.ssl"
            local ca = assert(ssl.parse_pem_cert(read_file(DIR .. "/b.test.crt")))
            if ssl.server_name() == "names.test" then
                assert(ssl.verify_client(ca, 1))
            else
                assert(ssl.verify_client(nil, nil, ca))
            end
--- tls_location
        location / {
            return 200 "verify=$ssl_client_verify dn=$ssl_client_s_dn";
        }
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location /b { lua_ssl_certificate $TEST_NGINX_SSL_DIR/b.test.crt;
                      lua_ssl_certificate_key $TEST_NGINX_SSL_DIR/b.test.key;
                      content_by_lua_block { ngx.print(hs(ngx.var.arg_name or "x.test")) } }
        location /a { lua_ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
                      lua_ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
                      content_by_lua_block { ngx.print(hs("x.test")) } }
        location /none { content_by_lua_block { ngx.print(hs("x.test")) } }
    }
--- config
    location = /t {
        content_by_lua_block {
            local function get(path)
                local sock = ngx.socket.tcp()
                assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_2))
                sock:send("GET " .. path .. " HTTP/1.0\r\n\r\n")
                local resp = sock:receive("*a")
                sock:close()
                return resp:match("\r\n\r\n(.*)")
            end
            ngx.say(get("/b"))
            ngx.say(get("/b?name=names.test"))
            ngx.say(get("/a"):match("^verify=FAILED") and "a: FAILED" or get("/a"))
            ngx.say(get("/none"))
            local ssl = require "ngx.ssl"
            ngx.say(ssl.verify_client())
        }
    }
--- response_body
verify=SUCCESS dn=CN=b.test
verify=SUCCESS dn=CN=b.test
a: FAILED
verify=NONE dn=
nilAPI disabled in the current context
--- no_error_log
[alert]



=== TEST 10: ngx.ssl PEM chains: a damaged certificate after the first fails with upstream's error, text after the last one is ignored
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local a, b = read_file(DIR .. "/a.test.crt"), read_file(DIR .. "/b.test.crt")
            -- b's PEM block with most of its body cut out
            local cut = b:sub(1, 100) .. "\n-----END CERTIFICATE-----\n"
            ngx.say(ssl.parse_pem_cert(a .. cut))
            ngx.say(ssl.cert_pem_to_der(a .. cut))
            ngx.say(type(ssl.parse_pem_cert(a .. b .. "trailing words\n")))
            ngx.say(#ssl.cert_pem_to_der(a .. b) == #ssl.cert_pem_to_der(a) + #ssl.cert_pem_to_der(b))
        }
    }
--- response_body
nilPEM_read_bio_X509() failed
nilPEM_read_bio_X509() failed
cdata
true
--- no_error_log
[error]
