# The TLS methods of tcpsock beside sslhandshake: setclientcert (proven by
# servers that ask for a client certificate), settrustedstore (an
# X509_STORE built with raw OpenSSL through the FFI), getsslpointer,
# getsslctx and getsslsession.
use Test::Nginx::Socket::Lua;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

$ENV{TEST_NGINX_CERT_DIR} ||= abs_path(dirname(__FILE__) . "/../cert");

# Three TLS servers: one requiring a client certificate from ca.crt's CA,
# one reporting any client certificate against the chain root CA, one
# asking for none; and helpers.
add_block_preprocessor(sub {
    my $block = shift;
    my $servers = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name test.com;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_verify_client on;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/ca.crt;
        location / {
            return 200 "verify=$ssl_client_verify dn=$ssl_client_s_dn\n";
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        server_name test.com;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_verify_client optional_no_ca;
        ssl_client_certificate $TEST_NGINX_CERT_DIR/chain-root-ca.crt;
        ssl_verify_depth 2;
        location / {
            return 200 "verify=$ssl_client_verify dn=$ssl_client_s_dn\n";
        }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3 ssl;
        server_name test.com;
        ssl_certificate $TEST_NGINX_CERT_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/server.key;
        ssl_session_cache shared:TLS:1m;
        ssl_session_tickets off;
        location / {
            return 200 "reused=$ssl_session_reused proto=$ssl_protocol\n";
        }
    }
_EOC_
    my $helper = <<'_EOC_';
    init_by_lua_block {
        local ffi = require "ffi"
        ffi.cdef [[
            typedef struct bio_st BIO;
            typedef struct bio_method_st BIO_METHOD;
            typedef struct x509_st X509;
            typedef struct x509_store_st X509_STORE;
            const BIO_METHOD *BIO_s_mem(void);
            BIO *BIO_new(const BIO_METHOD *type);
            int BIO_write(BIO *b, const void *data, int len);
            int BIO_free(BIO *a);
            X509 *PEM_read_bio_X509(BIO *bp, X509 **x, void *cb, void *u);
            void X509_free(X509 *a);
            X509_STORE *X509_STORE_new(void);
            int X509_STORE_add_cert(X509_STORE *st, X509 *x);
            void X509_STORE_free(X509_STORE *st);
            const char *SSL_get_version(const void *ssl);
            void *SSL_get_SSL_CTX(const void *ssl);
        ]]

        function read_file(name)
            local f = assert(io.open("$TEST_NGINX_CERT_DIR/" .. name))
            local s = f:read("*a")
            f:close()
            return s
        end

        -- The first certificate of a PEM file in a new X509_STORE, freed
        -- by the GC.
        function store_of(name)
            local C = ffi.C
            local pem = read_file(name)
            local bio = C.BIO_new(C.BIO_s_mem())
            assert(C.BIO_write(bio, pem, #pem) == #pem)
            local x = C.PEM_read_bio_X509(bio, nil, nil, nil)
            C.BIO_free(bio)
            assert(x ~= nil)
            local st = C.X509_STORE_new()
            assert(C.X509_STORE_add_cert(st, x) == 1)
            C.X509_free(x)
            return ffi.gc(st, C.X509_STORE_free)
        end

        -- A GET over the socket: the status and the body.
        function http_get(sock)
            local ok, err = sock:send("GET / HTTP/1.1\r\nHost: test.com\r\n\r\n")
            if not ok then
                return nil, "send: " .. err
            end
            local head, err = sock:receiveuntil("\r\n\r\n")()
            if not head then
                return nil, "receive: " .. err
            end
            local len = tonumber(head:match("[Cc]ontent%-[Ll]ength: (%d+)"))
            local body, err = sock:receive(len)
            if not body then
                return nil, "receive: " .. err
            end
            return head:match("^HTTP/1%.1 (%d+)") .. " " .. body
        end

        function connect(port)
            local sock = ngx.socket.tcp()
            sock:settimeout(3000)
            assert(sock:connect("127.0.0.1", port))
            return sock
        end
    }
_EOC_
    $block->set_value("http_config", $servers . $helper . ($block->http_config // ""));
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: tcpsock:setclientcert: the server sees the client certificate
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local cert = assert(ssl.parse_pem_cert(read_file("server.crt")))
            local key = assert(ssl.parse_pem_priv_key(read_file("server.key")))
            local sock = connect($TEST_NGINX_RAND_PORT_1)
            ngx.say("set: ", sock:setclientcert(cert, key))
            cert, key = nil, nil
            collectgarbage()
            local sess, err = sock:sslhandshake(false, "test.com")
            ngx.say("handshake: ", sess, " ", err)
            ngx.print(http_get(sock))
            sock:close()
        }
    }
--- request
GET /t
--- response_body
set: true
handshake: true nil
200 verify=SUCCESS dn=CN=test.com
--- no_error_log
[error]
[alert]



=== TEST 2: tcpsock:setclientcert: without one, or after clearing it, no certificate is sent
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local cert = assert(ssl.parse_pem_cert(read_file("server.crt")))
            local key = assert(ssl.parse_pem_priv_key(read_file("server.key")))

            local sock = connect($TEST_NGINX_RAND_PORT_1)
            assert(sock:sslhandshake(false, "test.com"))
            local res = assert(http_get(sock))
            ngx.say("none: ", res:match("^%d+"), " ", res:match("No required SSL certificate was sent") ~= nil)
            sock:close()

            sock = connect($TEST_NGINX_RAND_PORT_1)
            assert(sock:setclientcert(cert, key))
            ngx.say("cleared: ", sock:setclientcert(nil, nil))
            assert(sock:sslhandshake(false, "test.com"))
            res = assert(http_get(sock))
            ngx.say("after clear: ", res:match("^%d+"))
            sock:close()
        }
    }
--- request
GET /t
--- response_body
none: 400 true
cleared: true
after clear: 400
--- no_error_log
[alert]



=== TEST 3: tcpsock:setclientcert: bad arguments
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local cert = assert(ssl.parse_pem_cert(read_file("server.crt")))
            local key = assert(ssl.parse_pem_priv_key(read_file("server.key")))
            local sock = ngx.socket.tcp()
            ngx.say(sock:setclientcert(cert, nil))
            ngx.say(sock:setclientcert(nil, key))
            ngx.say(sock:setclientcert("cert", key))
            ngx.say(sock:setclientcert(cert, 42))
            ngx.say(sock:setclientcert({}, {}))
            ngx.say(sock:setclientcert(false, false))
        }
    }
--- request
GET /t
--- response_body
nilclient certificate must be supplied with corresponding private key
nilclient certificate must be supplied with corresponding private key
nilbad cert arg: cdata expected, got string
nilbad pkey arg: cdata expected, got number
nilbad cert arg: cdata expected, got table
true
--- no_error_log
[error]



=== TEST 4: tcpsock:setclientcert: a key that does not match the certificate fails the handshake
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local cert = assert(ssl.parse_pem_cert(read_file("server.crt")))
            local key = assert(ssl.parse_pem_priv_key(read_file("chain-server.key")))
            local sock = connect($TEST_NGINX_RAND_PORT_1)
            assert(sock:setclientcert(cert, key))
            ngx.say(sock:sslhandshake(false, "test.com"))
            sock:close()
        }
    }
--- request
GET /t
--- response_body
nilssl set client private key failed
--- no_error_log
[alert]



=== TEST 5: tcpsock:setclientcert: the chain's intermediate certificates are sent too
chain-server.crt is for servers only: with its intermediate the server
builds the chain to its root and then refuses the purpose; with the leaf
alone it cannot build the chain (an error optional_no_ca lets through).
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local pem = read_file("chain-server.crt")
            local key = assert(ssl.parse_pem_priv_key(read_file("chain-server.key")))
            local leaf = pem:match("^.-%-%-%-%-%-END CERTIFICATE%-%-%-%-%-\n")
            for _, c in ipairs({ { "chain", pem }, { "leaf", leaf } }) do
                local cert = assert(ssl.parse_pem_cert(c[2]))
                local sock = connect($TEST_NGINX_RAND_PORT_2)
                assert(sock:setclientcert(cert, key))
                assert(sock:sslhandshake(false, "test.com"))
                local res = assert(http_get(sock))
                ngx.say(c[1], ": ", res:match("^%d+"), " ",
                        res:match("verify=[^\n]*") or res:match("<title>(.-)</title>"))
                sock:close()
            end
        }
    }
--- request
GET /t
--- response_body
chain: 400 400 The SSL certificate error
leaf: 200 verify=FAILED:unable to verify the first certificate dn=CN=chain.test
--- error_log
client SSL certificate verify error: (26:
--- no_error_log
[alert]



=== TEST 6: tcpsock:setclientcert: DER-parsed certificate and key
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local cert = assert(ssl.parse_der_cert(assert(ssl.cert_pem_to_der(read_file("server.crt")))))
            local key = assert(ssl.parse_der_priv_key(assert(ssl.priv_key_pem_to_der(read_file("server.key")))))
            local sock = connect($TEST_NGINX_RAND_PORT_1)
            assert(sock:setclientcert(cert, key))
            assert(sock:sslhandshake(nil, "test.com"))
            ngx.print(http_get(sock))
            sock:close()
        }
    }
--- request
GET /t
--- response_body
200 verify=SUCCESS dn=CN=test.com
--- no_error_log
[error]
[alert]



=== TEST 7: tcpsock:getsslpointer, getsslctx: OpenSSL's objects of the connection
--- config
    location = /t {
        content_by_lua_block {
            local ffi = require "ffi"
            local sock = ngx.socket.tcp()
            ngx.say("unconnected: ", sock:getsslpointer())
            ngx.say("unconnected: ", sock:getsslctx())
            sock = connect($TEST_NGINX_RAND_PORT_3)
            ngx.say("plain: ", sock:getsslpointer())
            ngx.say("plain: ", sock:getsslctx())
            assert(sock:sslhandshake(false, "test.com"))
            local ssl = sock:getsslpointer()
            local ctx = sock:getsslctx()
            ngx.say("types: ", type(ssl), " ", type(ctx), " ", ssl ~= nil, " ", ctx ~= nil)
            ngx.say("ctx of ssl: ", ffi.C.SSL_get_SSL_CTX(ssl) == ctx)
            local version = ffi.string(ffi.C.SSL_get_version(ssl))
            local res = http_get(sock)
            ngx.say("version matches: ", res:match("proto=(%S+)") == version)
            sock:close()
            ngx.say("closed: ", sock:getsslpointer())
            ngx.say("closed: ", sock:getsslctx())
        }
    }
--- request
GET /t
--- response_body
unconnected: nilclosed
unconnected: nilclosed
plain: nilno ssl connection
plain: nilno ssl context
types: cdata cdata true true
ctx of ssl: true
version matches: true
closed: nilclosed
closed: nilclosed
--- no_error_log
[error]
[alert]



=== TEST 8: tcpsock:getsslsession: a session taken after a request resumes the next connection
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say("unconnected: ", sock:getsslsession())
            sock = connect($TEST_NGINX_RAND_PORT_3)
            ngx.say("plain: ", sock:getsslsession())
            assert(sock:sslhandshake(false, "test.com"))
            ngx.print("1: ", http_get(sock))
            local sess, err = sock:getsslsession()
            ngx.say("session: ", type(sess), " ", err)
            sock:close()

            sock = connect($TEST_NGINX_RAND_PORT_3)
            local again = assert(sock:sslhandshake(sess, "test.com"))
            ngx.print("2: ", http_get(sock))
            sock:close()
        }
    }
--- request
GET /t
--- response_body_like
^unconnected: nilclosed
plain: nilno session
1: 200 reused=\. proto=TLSv1\.[23]
session: cdata nil
2: 200 reused=r proto=TLSv1\.[23]
--- no_error_log
[error]
[alert]



=== TEST 9: tcpsock:settrustedstore: the store verifies the server, for one handshake
--- config
    location = /t {
        content_by_lua_block {
            local sock = connect($TEST_NGINX_RAND_PORT_3)
            ngx.say("set: ", sock:settrustedstore(store_of("ca.crt")))
            collectgarbage()
            local ok, err = sock:sslhandshake(false, "test.com", true)
            ngx.say("ca store: ", ok, " ", err)
            ngx.say("after handshake: ", sock:settrustedstore(store_of("ca.crt")))
            sock:close()

            sock = connect($TEST_NGINX_RAND_PORT_3)
            assert(sock:settrustedstore(store_of("other-ca.crt")))
            ngx.say("other store: ", sock:sslhandshake(false, "test.com", true))

            sock = connect($TEST_NGINX_RAND_PORT_3)
            ngx.say("no store: ", sock:sslhandshake(false, "test.com", true))

            sock = connect($TEST_NGINX_RAND_PORT_3)
            assert(sock:settrustedstore(store_of("ca.crt")))
            ngx.say("cleared: ", sock:settrustedstore(nil))
            ngx.say("after clear: ", sock:sslhandshake(false, "test.com", true))
        }
    }
--- request
GET /t
--- response_body
set: true
ca store: true nil
after handshake: nilssl handshake already done; trusted store cannot be changed on an established TLS connection
other store: nil20: unable to get local issuer certificate
no store: nil20: unable to get local issuer certificate
cleared: true
after clear: nil20: unable to get local issuer certificate
--- error_log
lua ssl certificate verify error: (20: unable to get local issuer certificate)



=== TEST 10: tcpsock:settrustedstore: bad arguments and a closed socket
--- config
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            ngx.say(sock:settrustedstore("store"))
            ngx.say(sock:settrustedstore(42))
            ngx.say(sock:settrustedstore(store_of("ca.crt")))
            sock = connect($TEST_NGINX_RAND_PORT_3)
            sock:close()
            ngx.say(sock:settrustedstore(store_of("ca.crt")))
            sock = connect($TEST_NGINX_RAND_PORT_3)
            ngx.say(sock:settrustedstore(require("ffi").cast("void *", 0)))
            sock:close()
        }
    }
--- request
GET /t
--- response_body
nilbad store arg: cdata expected, got string
nilbad store arg: cdata expected, got number
nilclosed
nilclosed
true
--- no_error_log
[error]



=== TEST 11: tcpsock:getsslpointer, getsslsession: a failed handshake closed the connection
--- config
    location = /t {
        content_by_lua_block {
            local sock = connect($TEST_NGINX_RAND_PORT_3)
            ngx.say("handshake: ", sock:sslhandshake(false, "test.com", true))
            ngx.say("pointer: ", sock:getsslpointer())
            ngx.say("session: ", sock:getsslsession())
        }
    }
--- request
GET /t
--- response_body
handshake: nil20: unable to get local issuer certificate
pointer: nilclosed
session: nilclosed
--- no_error_log
[alert]
