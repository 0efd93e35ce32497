# ngx.ctx in the TLS handlers: the ssl_*_by_lua* handlers of a connection
# share one table, kept with the connection, and every request on that
# connection reads through it while its own writes stay its own.
use Test::Nginx::Socket::Lua;
use TestSslCerts;

$ENV{TEST_NGINX_SSL_DIR} = TestSslCerts::make_certs(qw(a.test));

# Every block gets a TLS server on RAND_PORT_1 with the block's
# `hello_handler` and `cert_handler` sections, whose /foo prints what the
# request sees in ngx.ctx, and a helper: session(n) makes one connection
# and sends n keep-alive requests on it, returning the bodies.
add_block_preprocessor(sub {
    my $block = shift;
    my $hello = $block->hello_handler // '';
    my $cert = $block->cert_handler // '';
    my $server = <<"_EOC_";
    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1 ssl;
        server_name a.test;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate \$TEST_NGINX_SSL_DIR/a.test.crt;
        ssl_certificate_key \$TEST_NGINX_SSL_DIR/a.test.key;
        ssl_client_hello_by_lua_block {
$hello
        }
        ssl_certificate_by_lua_block {
$cert
        }
        location = /foo {
            content_by_lua_block {
                local ctx = ngx.ctx
                ctx.count = (ctx.count or 0) + 1
                local body = tostring(ctx.hello) .. " " .. tostring(ctx.cert)
                             .. " " .. ctx.count .. " " .. tostring(rawget(ctx, "cert"))
                ngx.header["Content-Length"] = #body
                ngx.print(body)
            }
        }
    }
    init_by_lua_block {
        PORT = \$TEST_NGINX_RAND_PORT_1
        function session(n)
            local sock = ngx.socket.tcp()
            sock:settimeout(3000)
            assert(sock:connect("127.0.0.1", PORT))
            local ok, err = sock:sslhandshake(nil, "a.test", false)
            if not ok then
                return { "handshake: " .. err }
            end
            local out = {}
            for i = 1, n do
                assert(sock:send("GET /foo HTTP/1.1\\r\\nHost: a.test\\r\\n\\r\\n"))
                local len
                while true do
                    local line = assert(sock:receive())
                    if line == "" then
                        break
                    end
                    len = len or tonumber(line:match("^Content%-Length: (%d+)"))
                end
                out[#out + 1] = assert(sock:receive(len))
            end
            sock:close()
            return out
        end
    }
_EOC_
    $block->set_value("http_config", $server . ($block->http_config // ""));
    $block->set_value("request", "GET /t") unless defined $block->request;
});

plan 'no_plan';
run_tests();

__DATA__

=== TEST 1: ngx.ctx: what ssl_certificate_by_lua sets is seen by every request of the connection, a request's writes are its own
--- cert_handler
            ngx.ctx.cert = "from-cert"
            ngx.ctx.count = 10
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(table.concat(session(2), "\n"))
            ngx.say(table.concat(session(1), "\n"))
        }
    }
--- response_body
nil from-cert 11 nil
nil from-cert 11 nil
nil from-cert 11 nil
--- no_error_log
[error]



=== TEST 2: ngx.ctx: ssl_client_hello_by_lua and ssl_certificate_by_lua share one table per connection, which goes when the connection closes
--- hello_handler
            ngx.ctx.hello = "from-hello"
--- cert_handler
            ngx.ctx.cert = ngx.ctx.hello .. "+cert"
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(table.concat(session(1), "\n"))
        }
    }
--- log_level: debug
--- response_body
from-hello from-hello+cert 1 nil
--- grep_error_log eval
qr/lua release ngx.ctx at ref \d+/
--- grep_error_log_out
lua release ngx.ctx at ref 2
lua release ngx.ctx at ref 1
--- no_error_log
[error]
