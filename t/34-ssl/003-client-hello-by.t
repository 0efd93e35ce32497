# ssl_client_hello_by_lua*: the handler reads the ClientHello (name,
# extensions, ciphers, versions), may yield, may restrict the protocols,
# and fails the handshake on errors; it runs before ssl_certificate_by_lua*.
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test b.test));

add_block_preprocessor(sub {
    my $block = shift;
    my $hello = $block->hello_handler // '';
    my $cert = $block->cert_handler // '';
    my $cert_directive = $cert eq '' ? '' : "ssl_certificate_by_lua_block {\n$cert\n        }";
    my $server = <<"_EOC_";
    lua_shared_dict log 1m;
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        server_name _;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate \$TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key \$TEST_NGINX_SSL_DIR/a.test.key;
        ssl_client_hello_by_lua_block {
$hello
        }
        $cert_directive
        location / {
            return 200 "sni=\$ssl_server_name proto=\$ssl_protocol";
        }
    }
    init_by_lua_block {
        PORT = \$TEST_NGINX_RAND_PORT_1
        function hs(name)
            local sock = ngx.socket.tcp()
            sock:settimeout(3000)
            assert(sock:connect("127.0.0.1", PORT))
            local sess, err = sock:sslhandshake(nil, name, false)
            if not sess then
                sock:close()
                return "failed: " .. err
            end
            sock:send("GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            local resp = sock:receive("*a")
            sock:close()
            return resp and resp:match("\\r\\n\\r\\n(.*)")
        end
        function s_client(name, ...)
            local proc = assert(require("ngx.pipe").spawn({ "openssl", "s_client",
                "-brief", "-connect", "127.0.0.1:" .. PORT, "-servername", name, ... },
                { merge_stderr = true }))
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

=== TEST 1: ssl_client_hello_by_lua_block: the ClientHello's name, extensions, ciphers and versions
--- hello_handler
            local ch = require "ngx.ssl.clienthello"
            local log = ngx.shared.log
            log:set("phase", ngx.get_phase())
            log:set("name", ch.get_client_hello_server_name())
            local exts = ch.get_client_hello_ext_present()
            local has = {}
            for _, t in ipairs(exts) do has[t] = true end
            log:set("sni ext", has[0] == true)
            log:set("versions ext", has[43] == true)
            local sni = ch.get_client_hello_ext(0)
            log:set("sni raw", sni and #sni)
            log:set("absent ext", tostring(ch.get_client_hello_ext(65000)))
            local ciphers = ch.get_client_hello_ciphers()
            local tls13 = false
            for _, c in ipairs(ciphers) do
                if c == 0x1301 then tls13 = true end
            end
            log:set("offers TLS_AES_128_GCM_SHA256", tls13)
            -- openssl s_client offers 1.3 down to 1.0; listed last first.
            log:set("versions", table.concat(ch.get_supported_versions(), ","))
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(s_client("b.test"):match("Protocol version: ([^\n]*)"))
            local log = ngx.shared.log
            for _, k in ipairs({ "phase", "name", "sni ext", "versions ext", "sni raw",
                                 "absent ext", "offers TLS_AES_128_GCM_SHA256", "versions" }) do
                ngx.say(k, ": ", log:get(k))
            end
        }
    }
--- response_body
TLSv1.3
phase: ssl_client_hello
name: b.test
sni ext: true
versions ext: true
sni raw: 11
absent ext: nil
offers TLS_AES_128_GCM_SHA256: true
versions: TLSv1,TLSv1.1,TLSv1.2,TLSv1.3
--- no_error_log
[error]
[alert]



=== TEST 2: ssl_client_hello_by_lua_block: set_protocols after a sleep limits the handshake to TLS 1.2, then the certificate handler runs
--- hello_handler
            local ch = require "ngx.ssl.clienthello"
            ngx.sleep(0.02)
            if ch.get_client_hello_server_name() == "b.test" then
                assert(ch.set_protocols({ "TLSv1.2" }))
            end
            ngx.shared.log:set("order", "hello")
--- cert_handler
            local ssl = require "ngx.ssl"
            ngx.shared.log:set("order", ngx.shared.log:get("order") .. ",cert " .. ssl.get_tls1_version_str())
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(hs("b.test"))
            ngx.say(ngx.shared.log:get("order"))
            ngx.say(hs("a.test"))
            ngx.say(ngx.shared.log:get("order"))
            local ch = require "ngx.ssl.clienthello"
            ngx.say(ch.set_protocols ~= nil, " ", select(2, pcall(ch.set_protocols, { "TLSv1.2" })))
        }
    }
--- response_body eval
qr/^sni=b.test proto=TLSv1.2
hello,cert TLSv1.2
sni=a.test proto=TLSv1.3
hello,cert TLSv1.3
true .*API disabled in the current context
$/
--- no_error_log
[error]
[alert]



=== TEST 3: ssl_client_hello_by_lua_block: errors and ngx.exit(ngx.ERROR) fail the handshake; bad protocol names are refused
--- hello_handler
            local ch = require "ngx.ssl.clienthello"
            local name = ch.get_client_hello_server_name()
            ngx.shared.log:set("bad", select(2, ch.set_protocols({ "TLSv9" })))
            if name == "a.test" then
                error("refused " .. name)
            elseif name == "b.test" then
                ngx.exit(ngx.ERROR)
            end
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(hs("a.test"))
            ngx.say(hs("b.test"))
            ngx.say(hs("c.test"))
            ngx.say(ngx.shared.log:get("bad"))
        }
    }
--- response_body
failed: handshake failed
failed: handshake failed
sni=c.test proto=TLSv1.3
invalid protocols failed
--- error_log eval
[
qr/lua entry thread aborted: runtime error: ssl_client_hello_by_lua\(nginx.conf:\d+\):\d+: refused a.test/,
qr/context: ssl_client_hello_by_lua\*, client: 127.0.0.1/,
]



=== TEST 4: ssl_client_hello_by_lua_file: the handler comes from a file and may yield
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        ssl_client_hello_by_lua_file html/hello.lua;
        location / { return 200 "file server"; }
    }
--- user_files
>>> hello.lua
ngx.sleep(0.01)
local ch = require "ngx.ssl.clienthello"
ngx.shared.log:set("file", "ran for " .. ch.get_client_hello_server_name())
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
