# lua_ssl_crl and lua_ssl_conf_command, against a TLS server of the test's
# own whose CA, certificate and CRLs this file makes with the openssl CLI.
use Test::Nginx::Socket::Lua;
use File::Temp qw(tempdir);

my $dir = tempdir(CLEANUP => 1);
sub sh { system(@_) == 0 or die "failed: @_\n" }
sub spew { my ($f, $s) = @_; open my $h, '>', $f or die "$f: $!"; print $h $s; close $h }
{
    local $ENV{OPENSSL_CONF} = "$dir/ca.cnf";
    spew("$dir/ca.cnf", <<"_EOC_");
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $dir/index.txt
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 36500
[ req ]
distinguished_name = dn
[ dn ]
[ server ]
subjectAltName = DNS:crl.test
_EOC_
    spew("$dir/index.txt", "");
    spew("$dir/crlnumber", "01\n");
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout $dir/ca.key -out $dir/ca.crt"
       . " -subj /CN=crl-test-ca -days 36500 2>/dev/null");
    sh("openssl req -newkey rsa:2048 -nodes -keyout $dir/server.key -out $dir/server.csr"
       . " -subj /CN=crl.test 2>/dev/null");
    sh("openssl x509 -req -in $dir/server.csr -CA $dir/ca.crt -CAkey $dir/ca.key"
       . " -CAcreateserial -out $dir/server.crt -days 36500 -extfile $dir/ca.cnf"
       . " -extensions server 2>/dev/null");
    # A CRL that revokes nothing, then one that revokes the server's certificate.
    sh("openssl ca -gencrl -keyfile $dir/ca.key -cert $dir/ca.crt -out $dir/empty.crl 2>/dev/null");
    sh("openssl ca -revoke $dir/server.crt -keyfile $dir/ca.key -cert $dir/ca.crt 2>/dev/null");
    sh("openssl ca -gencrl -keyfile $dir/ca.key -cert $dir/ca.crt -out $dir/revoked.crl 2>/dev/null");
}
$ENV{TEST_NGINX_CRL_DIR} = $dir;

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", <<'_EOC_' . ($block->http_config // ""));
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        server_name crl.test;
        ssl_certificate $TEST_NGINX_CRL_DIR/server.crt;
        ssl_certificate_key $TEST_NGINX_CRL_DIR/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            return 200 "proto=$ssl_protocol\n";
        }
    }
_EOC_
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: lua_ssl_crl: a CRL that revokes nothing lets the verified handshake through
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CRL_DIR/ca.crt;
    lua_ssl_crl $TEST_NGINX_CRL_DIR/empty.crl;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local sess, err = sock:sslhandshake(nil, "crl.test", true)
            ngx.say(sess ~= nil, " ", err)
        }
    }
--- request
GET /t
--- response_body
true nil
--- no_error_log
[error]



=== TEST 2: lua_ssl_crl: the server's certificate is revoked, so verification fails
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CRL_DIR/ca.crt;
    lua_ssl_crl $TEST_NGINX_CRL_DIR/revoked.crl;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local sess, err = sock:sslhandshake(nil, "crl.test", true)
            ngx.say(sess, " ", err)
        }
    }
--- request
GET /t
--- response_body
nil 23: certificate revoked
--- error_log
lua ssl certificate verify error: (23: certificate revoked)



=== TEST 3: lua_ssl_crl: without verification the revoked certificate is not checked
--- config
    lua_ssl_trusted_certificate $TEST_NGINX_CRL_DIR/ca.crt;
    lua_ssl_crl $TEST_NGINX_CRL_DIR/revoked.crl;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            local sess, err = sock:sslhandshake(nil, "crl.test", false)
            ngx.say(sess ~= nil, " ", err)
        }
    }
--- request
GET /t
--- response_body
true nil
--- no_error_log
[error]



=== TEST 4: lua_ssl_conf_command: OpenSSL commands shape the client's handshake
--- config
    lua_ssl_protocols TLSv1.2 TLSv1.3;
    location = /t {
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:sslhandshake(nil, "crl.test", false))
            assert(sock:send("GET / HTTP/1.0\r\nHost: crl.test\r\n\r\n"))
            ngx.say((sock:receive("*a")):match("proto=%S+"))
        }
    }
    location = /max12 {
        lua_ssl_conf_command MaxProtocol TLSv1.2;
        content_by_lua_block {
            local sock = ngx.socket.tcp()
            assert(sock:connect("127.0.0.1", $TEST_NGINX_RAND_PORT_1))
            assert(sock:sslhandshake(nil, "crl.test", false))
            assert(sock:send("GET / HTTP/1.0\r\nHost: crl.test\r\n\r\n"))
            ngx.say((sock:receive("*a")):match("proto=%S+"))
        }
    }
--- request eval
["GET /t", "GET /max12"]
--- response_body eval
["proto=TLSv1.3\n", "proto=TLSv1.2\n"]
--- no_error_log
[error]
