# ngx.ssl: priv_key_pem_to_der with a passphrase, export_keying_material_early
# (0-RTT data from openssl s_client, and without it), get_req_shared_ssl_ciphers
# (curl offering chosen ciphers), with bad arguments and the wrong contexts.
use Test::Nginx::Socket::Lua;
use TestSslCerts;

my $dir = TestSslCerts::make_certs(qw(a.test));
$ENV{TEST_NGINX_SSL_DIR} = $dir;
system("openssl pkey -in $dir/a.test.key -aes256 -passout pass:s3cret -out $dir/a.test.enc.key") == 0
    or die "openssl pkey failed";

add_block_preprocessor(sub {
    my $block = shift;
    my $server = <<"_EOC_";
    lua_shared_dict log 1m;
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        server_name _;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate \$TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key \$TEST_NGINX_SSL_DIR/a.test.key;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA;
        ssl_early_data on;
        ssl_session_tickets on;
        location /ekm {
            content_by_lua_block {
                local ssl = require "ngx.ssl"
                local early, err = ssl.export_keying_material_early(32, "EXPERIMENTAL x", "ctx")
                local key = ssl.export_keying_material(32, "EXPERIMENTAL x", "ctx")
                ngx.say("early: ", early and #early or err,
                        " differs: ", early ~= key)
            }
        }
        location /ciphers {
            content_by_lua_block {
                local ssl = require "ngx.ssl"
                local out = {}
                for _, grease in ipairs({ "default", false }) do
                    local ids = ssl.get_req_shared_ssl_ciphers(grease ~= "default" and grease or nil)
                    table.sort(ids)
                    for i, id in ipairs(ids) do
                        ids[i] = string.format("%04x", id)
                    end
                    out[#out + 1] = table.concat(ids, " ")
                end
                ngx.say(ngx.var.ssl_protocol, ": ", table.concat(out, " | "))
            }
        }
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
        function run(args, input)
            local proc = assert(require("ngx.pipe").spawn(args, { merge_stderr = true }))
            proc:set_timeouts(3000, 3000, 3000)
            if input then
                proc:write(input)
            end
            proc:shutdown("stdin")
            local out = proc:stdout_read_all()
            proc:wait()
            return out or ""
        end
        function curl(path, ...)
            return run({ "curl", "-sk", "--resolve", "a.test:" .. PORT .. ":127.0.0.1",
                         "https://a.test:" .. PORT .. path, ... })
        end
    }
_EOC_
    $block->set_value("http_config", $server . ($block->http_config // ""));
    $block->set_value("request", "GET /t") unless defined $block->request;
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.ssl.priv_key_pem_to_der: an encrypted key with its passphrase, a wrong one, none
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            local enc = read_file(DIR .. "/a.test.enc.key")
            local want = read_file(DIR .. "/a.test.key.der")
            ngx.say("right: ", ssl.priv_key_pem_to_der(enc, "s3cret") == want)
            ngx.say("wrong: ", ssl.priv_key_pem_to_der(enc, "guess"))
            ngx.say("none: ", ssl.priv_key_pem_to_der(enc))
            ngx.say("empty: ", ssl.priv_key_pem_to_der(enc, ""))
            -- a key that is not encrypted needs none and ignores one
            local plain = read_file(DIR .. "/a.test.key")
            ngx.say("plain: ", ssl.priv_key_pem_to_der(plain, "s3cret") == want,
                    " ", ssl.priv_key_pem_to_der(plain) == want)
            ngx.say("parse_pem_priv_key, encrypted: ", ssl.parse_pem_priv_key(enc))
        }
    }
--- response_body
right: true
wrong: nilPEM_read_bio_PrivateKey() failed
none: nilPEM_read_bio_PrivateKey() failed
empty: nilPEM_read_bio_PrivateKey() failed
plain: true true
parse_pem_priv_key, encrypted: nilPEM_read_bio_PrivateKey() failed
--- no_error_log
[error]



=== TEST 2: ngx.ssl.export_keying_material_early: without 0-RTT data it fails as upstream (TLS 1.3 and 1.2), logged at info
--- config
    location = /t {
        content_by_lua_block {
            ngx.print(curl("/ekm", "--tlsv1.3"))
            ngx.print(curl("/ekm", "--tls-max", "1.2"))
        }
    }
--- response_body
early: SSL_export_keying_material_early() failed differs: true
early: SSL_export_keying_material_early() failed differs: true
--- error_log
SSL_export_keying_material_early rc: 0, error:
--- no_error_log
[error]



=== TEST 3: ngx.ssl.export_keying_material_early: over a resumed TLS 1.3 session with 0-RTT data, keying material of the early secret
--- config
    location = /t {
        content_by_lua_block {
            local sess = DIR .. "/sess-" .. ngx.worker.pid() .. ".pem"
            local early = DIR .. "/early-" .. ngx.worker.pid() .. ".txt"
            local f = assert(io.open(early, "w"))
            f:write("GET /ekm HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
            f:close()
            local base = { "openssl", "s_client", "-connect", "127.0.0.1:" .. PORT,
                           "-servername", "a.test", "-tls1_3", "-quiet" }
            local first = { unpack(base) }
            table.insert(first, "-sess_out")
            table.insert(first, sess)
            run(first, "GET /ekm HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
            local second = { unpack(base) }
            for _, a in ipairs({ "-sess_in", sess, "-early_data", early }) do
                table.insert(second, a)
            end
            local out = run(second)
            ngx.say(out:match("early: [^\r\n]+"))
        }
    }
--- response_body
early: 32 differs: true
--- no_error_log
[error]



=== TEST 4: ngx.ssl.export_keying_material_early: over plain HTTP "bad request"; outside requests it raises
--- config
    location = /t {
        content_by_lua_block {
            local ssl = require "ngx.ssl"
            ngx.say(ssl.export_keying_material_early(16, "EXPERIMENTAL x"))
            ngx.say(ssl.get_req_shared_ssl_ciphers())
        }
    }
--- http_config
    init_worker_by_lua_block {
        local ssl = require "ngx.ssl"
        local ok, err = pcall(ssl.export_keying_material_early, 16, "EXPERIMENTAL x")
        ngx.log(ngx.WARN, "early in init_worker: ", ok, " ", err)
        ok, err = pcall(ssl.get_req_shared_ssl_ciphers)
        ngx.log(ngx.WARN, "ciphers in init_worker: ", ok, " ", err)
    }
--- response_body
nilbad request
nilbad request
--- error_log eval
[qr/early in init_worker: false \S*: no request found/,
 qr/ciphers in init_worker: false \S*: no request found/]



=== TEST 5: ngx.ssl.get_req_shared_ssl_ciphers: the ciphers both sides allow, over TLS 1.2 and 1.3
--- config
    location = /t {
        content_by_lua_block {
            local offer = { "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256",
                            "--tls13-ciphers", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256" }
            ngx.print(curl("/ciphers", "--tls-max", "1.2", unpack(offer)))
            ngx.print(curl("/ciphers", "--tlsv1.3", unpack(offer)))
        }
    }
--- response_body
TLSv1.2: c02b c02f | c02b c02f
TLSv1.3: 1302 1303 | 1302 1303
--- no_error_log
[error]



=== TEST 6: ngx.ssl.get_req_shared_ssl_ciphers: in ssl_certificate_by_lua, the handshake's shared ciphers
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        server_name _;
        ssl_certificate $TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key $TEST_NGINX_SSL_DIR/a.test.key;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:AES256-SHA;
        ssl_certificate_by_lua_block {
            local ids = require("ngx.ssl").get_req_shared_ssl_ciphers()
            table.sort(ids)
            for i, id in ipairs(ids) do
                ids[i] = string.format("%04x", id)
            end
            ngx.log(ngx.WARN, "shared in cert handler: ", table.concat(ids, " "))
        }
        location / { return 200 "ok\n"; }
    }
--- config
    location = /t {
        content_by_lua_block {
            ngx.print(run({ "curl", "-sk", "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256",
                            "--tls13-ciphers", "TLS_AES_128_GCM_SHA256",
                            "https://127.0.0.1:$TEST_NGINX_RAND_PORT_2/" }))
        }
    }
--- response_body
ok
--- error_log
shared in cert handler: c02b

--- no_error_log
[error]
