# ngx.ocsp: responder URLs and requests for DER chains, the check of
# responses from a real OCSP responder (`openssl ocsp`, started by this
# file for a PKI made by t/lib/TestSslCerts.pm), and stapling from
# ssl_certificate_by_lua* as openssl s_client -status sees it.
use Test::Nginx::Socket::Lua;
use TestSslCerts;

my $ocsp_port = TestSslCerts::free_port();
$ENV{TEST_NGINX_OCSP_DIR} = TestSslCerts::make_ocsp_pki($ocsp_port);
$ENV{TEST_NGINX_OCSP_PORT} = $ocsp_port;
TestSslCerts::start_ocsp_responder($ENV{TEST_NGINX_OCSP_DIR}, $ocsp_port);

# Every block gets a TLS server on RAND_PORT_1 whose certificate handler
# is the block's `ssl_handler` section, and helpers: chain(name) is the
# DER chain (leaf, issuer) of a leaf, fetch(url, req) POSTs an OCSP
# request over a cosocket and returns the body and the HTTP status,
# s_client(name, ...) runs `openssl s_client -status` and returns its
# report.
add_block_preprocessor(sub {
    my $block = shift;
    my $handler = $block->ssl_handler // 'local ssl = require "ngx.ssl"';
    my $server = <<"_EOC_";
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        server_name _;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate \$TEST_NGINX_OCSP_DIR/plain.test.crt;
        ssl_certificate_key \$TEST_NGINX_OCSP_DIR/plain.test.key;
        ssl_certificate_by_lua_block {
$handler
        }
        location / {
            content_by_lua_block {
                local ocsp = require "ngx.ocsp"
                ngx.say("in request: ", ocsp.set_ocsp_status_resp("x"))
            }
        }
    }
    init_by_lua_block {
        DIR = "\$TEST_NGINX_OCSP_DIR"
        PORT = \$TEST_NGINX_RAND_PORT_1
        URL = "http://127.0.0.1:\$TEST_NGINX_OCSP_PORT/ocsp"
        function read_file(path)
            local f = assert(io.open(path, "rb"))
            local s = f:read("*a")
            f:close()
            return s
        end
        function chain(name)
            local ssl = require "ngx.ssl"
            return assert(ssl.cert_pem_to_der(read_file(DIR .. "/" .. name .. ".chain.crt")))
        end
        function fetch(url, req)
            local host, port, path = url:match("^http://([^:/]+):(%d+)(/.*)\$")
            local sock = ngx.socket.tcp()
            sock:settimeout(3000)
            local ok, err = sock:connect(host, tonumber(port))
            if not ok then
                return nil, err
            end
            sock:send("POST " .. path .. " HTTP/1.0\\r\\nHost: " .. host
                      .. "\\r\\nContent-Type: application/ocsp-request\\r\\nContent-Length: "
                      .. #req .. "\\r\\n\\r\\n" .. req)
            local resp, err = sock:receive("*a")
            sock:close()
            if not resp then
                return nil, err
            end
            local _, e = resp:find("\\r\\n\\r\\n", 1, true)
            return resp:sub(e + 1), resp:match("^HTTP/1%.%d (%d+)")
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
            return run({ "openssl", "s_client", "-connect", "127.0.0.1:" .. PORT,
                         "-servername", name, "-CAfile", DIR .. "/root.crt", ... })
        end
    }
_EOC_
    $block->set_value("http_config", $server . ($block->http_config // ""));
    $block->set_value("request", "GET /t") unless defined $block->request;
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.ocsp.get_ocsp_responder_from_der_chain: the AIA URL, none, truncated, and upstream's chain errors
--- config
    location = /t {
        content_by_lua_block {
            local ocsp = require "ngx.ocsp"
            local der = chain("ocsp.test")
            local leaf = require("ngx.ssl").cert_pem_to_der(read_file(DIR .. "/ocsp.test.crt"))
            local other = require("ngx.ssl").cert_pem_to_der(read_file(DIR .. "/other-issuer.crt"))
            ngx.say("url: ", ocsp.get_ocsp_responder_from_der_chain(der) == URL)
            ngx.say("no aia: ", ocsp.get_ocsp_responder_from_der_chain(chain("plain.test")))
            ngx.say("cut: ", ocsp.get_ocsp_responder_from_der_chain(der, 6))
            ngx.say("leaf only: ", ocsp.get_ocsp_responder_from_der_chain(leaf))
            ngx.say("wrong issuer: ", ocsp.get_ocsp_responder_from_der_chain(leaf .. other))
            ngx.say("bad der: ", ocsp.get_ocsp_responder_from_der_chain("junk"))
            ngx.say("empty: ", ocsp.get_ocsp_responder_from_der_chain(""))
        }
    }
--- response_body
url: true
no aia: nil
cut: http:/truncated
leaf only: nilno issuer certificate in chain
wrong issuer: nilissuer certificate not next to leaf
bad der: nild2i_X509_bio() failed
empty: nild2i_X509_bio() failed
--- no_error_log
[error]



=== TEST 2: ngx.ocsp.create_ocsp_request: the openssl command's request, buffer too small, upstream's chain errors
--- config
    location = /t {
        content_by_lua_block {
            local ocsp = require "ngx.ocsp"
            local der = chain("ocsp.test")
            local req = ocsp.create_ocsp_request(der)
            local want = read_file(DIR .. "/ocsp.test.req.der")
            ngx.say("same as openssl's: ", req == want, " (", #req, " bytes)")
            local ok, err = ocsp.create_ocsp_request(der, #want - 1)
            ngx.say("small: ", ok, " ", err == "output buffer too small: " .. #want .. " > " .. (#want - 1))
            local leaf = require("ngx.ssl").cert_pem_to_der(read_file(DIR .. "/ocsp.test.crt"))
            ngx.say("leaf only: ", ocsp.create_ocsp_request(leaf))
            ngx.say("empty: ", ocsp.create_ocsp_request(""))
            ngx.say("bad issuer: ", ocsp.create_ocsp_request(leaf .. "junk"))
        }
    }
--- response_body_like chomp
\Asame as openssl's: true \(\d+ bytes\)
small: nil true
leaf only: nilno issuer certificate in chain
empty: nild2i_X509_bio\(\) failed
bad issuer: nild2i_X509_bio\(\) failed
\z
--- no_error_log
[error]



=== TEST 3: ngx.ocsp.validate_ocsp_response: the responder's answers (good with nextUpdate, revoked), bad DER, wrong issuer, no signer, unsuccessful, cut message
--- config
    location = /t {
        content_by_lua_block {
            local ocsp = require "ngx.ocsp"
            local ssl = require "ngx.ssl"
            local der = chain("ocsp.test")
            local resp, status = fetch(URL, assert(ocsp.create_ocsp_request(der)))
            ngx.say("http status: ", status)
            local ok, next_update = ocsp.validate_ocsp_response(resp, der)
            -- the responder says the next update is a day away
            ngx.say("good: ", ok, " ", math.abs(next_update - (ngx.time() + 86400)) < 60)

            local rder = chain("revoked.test")
            local rresp = fetch(URL, assert(ocsp.create_ocsp_request(rder)))
            ngx.say("revoked: ", ocsp.validate_ocsp_response(rresp, rder))
            ngx.say("cut: ", ocsp.validate_ocsp_response(rresp, rder, 18))

            ngx.say("bad der: ", ocsp.validate_ocsp_response("junk", der))
            ngx.say("unsuccessful: ", ocsp.validate_ocsp_response("\48\3\10\1\1", der))

            local leaf = ssl.cert_pem_to_der(read_file(DIR .. "/ocsp.test.crt"))
            local other = ssl.cert_pem_to_der(read_file(DIR .. "/other-issuer.crt"))
            ngx.say("leaf only: ", ocsp.validate_ocsp_response(resp, leaf))
            -- the response carries its signer, which is trusted as upstream
            -- does, but it is not about a certificate of this issuer
            ngx.say("wrong issuer: ", ocsp.validate_ocsp_response(resp, leaf .. other))
            -- without the signer's certificate it is the chain's issuer
            local nocerts = read_file(DIR .. "/ocsp.test.resp-nocerts.der")
            ngx.say("no certs: ", ocsp.validate_ocsp_response(nocerts, der) and "ok")
            ngx.say("no certs, wrong issuer: ", ocsp.validate_ocsp_response(nocerts, leaf .. other))
            ngx.say("other leaf: ", ocsp.validate_ocsp_response(resp, rder))
        }
    }
--- response_body
http status: 200
good: true true
revoked: nilcertificate status "revoked" in the OCSP response
cut: nilcertificate status
bad der: nild2i_OCSP_RESPONSE() failed
unsuccessful: nilOCSP response not successful (1: malformedrequest)
leaf only: nilno issuer certificate in chain
wrong issuer: nilcertificate status not found in the OCSP response
no certs: ok
no certs, wrong issuer: nilOCSP_basic_verify() failed
other leaf: nilcertificate status not found in the OCSP response
--- no_error_log
[error]



=== TEST 4: ngx.ocsp.set_ocsp_status_resp: the handler fetches, checks and staples the response; s_client -status sees it over TLS 1.2 and 1.3
--- ssl_handler
            local ssl = require "ngx.ssl"
            local ocsp = require "ngx.ocsp"
            local name = ssl.server_name()
            local der = chain(name)
            assert(ssl.clear_certs())
            assert(ssl.set_der_cert(der))
            local key = read_file(DIR .. "/" .. name .. ".key")
            assert(ssl.set_der_priv_key(assert(ssl.priv_key_pem_to_der(key))))
            local url = assert(ocsp.get_ocsp_responder_from_der_chain(der))
            local resp, status = fetch(url, assert(ocsp.create_ocsp_request(der)))
            if not resp then
                ngx.log(ngx.ERR, "OCSP query failed: ", status)
                return ngx.exit(ngx.ERROR)
            end
            local ok, err = ocsp.validate_ocsp_response(resp, der)
            if not ok then
                ngx.log(ngx.ERR, "failed to validate OCSP response: ", err)
                return ngx.exit(ngx.ERROR)
            end
            ngx.log(ngx.WARN, "staple set: ", ocsp.set_ocsp_status_resp(resp))
--- config
    location = /t {
        content_by_lua_block {
            for _, v in ipairs({ "-tls1_2", "-tls1_3" }) do
                local out = s_client("ocsp.test", "-status", v)
                ngx.say(v, ": ", out:match("OCSP Response Status: (%S+)"), " ",
                        out:match("Cert Status: (%S+)"), " ",
                        out:match("Verify return code: (%d+)"))
            end
            local out = s_client("ocsp.test")
            ngx.say("no -status: ", out:match("OCSP response:") or "no OCSP output",
                    " ", out:match("Verify return code: (%d+)"))
        }
    }
--- response_body
-tls1_2: successful good 0
-tls1_3: successful good 0
no -status: no OCSP output 0
--- grep_error_log eval: qr/staple set: .*?,/
--- grep_error_log_out
staple set: true,
staple set: true,
staple set: trueno status req,
--- no_error_log
[error]



=== TEST 5: ngx.ocsp: a revoked certificate's response fails the handler, and the handshake with it
--- ssl_handler
            local ssl = require "ngx.ssl"
            local ocsp = require "ngx.ocsp"
            local der = chain("revoked.test")
            local resp = fetch(URL, assert(ocsp.create_ocsp_request(der)))
            local ok, err = ocsp.validate_ocsp_response(resp, der)
            if not ok then
                ngx.log(ngx.ERR, "failed to validate OCSP response: ", err)
                return ngx.exit(ngx.ERROR)
            end
            ocsp.set_ocsp_status_resp(resp)
--- config
    location = /t {
        content_by_lua_block {
            local out = s_client("revoked.test", "-status")
            ngx.say("handshake: ", out:match("OCSP Response Status") and "stapled"
                    or out:match("Cipher is (%S+)") or "failed")
        }
    }
--- response_body
handshake: (NONE)
--- error_log
failed to validate OCSP response: certificate status "revoked" in the OCSP response



=== TEST 6: ngx.ocsp.set_ocsp_status_resp: outside requests it raises, over plain HTTP "bad request", in a request over TLS it answers as upstream
--- config
    location = /t {
        content_by_lua_block {
            local ocsp = require "ngx.ocsp"
            ngx.say("plain: ", ocsp.set_ocsp_status_resp("x"))
            local out = run({ "curl", "-sk", "--resolve", "ocsp.test:" .. PORT .. ":127.0.0.1",
                              "https://ocsp.test:" .. PORT .. "/" })
            ngx.say("tls: ", (out:gsub("\n$", "")))
        }
    }
--- http_config
    init_worker_by_lua_block {
        local ok, err = pcall(require("ngx.ocsp").set_ocsp_status_resp, "x")
        ngx.log(ngx.WARN, "init_worker: ", ok, " ", err)
    }
--- response_body
plain: nilbad request
tls: in request: trueno status req

--- error_log eval
qr/init_worker: false \S*: no request found/
