# The calls that end a request (ngx.exit, ngx.exec, ngx.redirect, a jumping
# ngx.req.set_uri, ngx.req.socket(true)) with every odd value of the
# argument fuzzer (t/27-fuzz/fuzzargs.lua), each in its own request, in
# rewrite, access and content: every request gets an answer (whatever its
# status) or a close, nginx logs no crash, panic or [alert], and still serves a
# sanity request at the end of the block.
use FindBin;
use Test::Nginx::Socket::Lua;

our $Dir = $FindBin::Bin;
our $NValues = 28;    # the length of fuzzargs.lua's `values`
our @Phases = qw(rewrite access content);

our $HttpConfig = qq{
    lua_package_path "$Dir/?.lua;;";
};

our $Config = q{
    location = /fuzz/x { content_by_lua_block { ngx.say("x") } }
    location = /alive { content_by_lua_block { ngx.say("alive") } }
    location = /end/rewrite {
        rewrite_by_lua_block {
            require("fuzzargs").ender(ngx.var.arg_f, tonumber(ngx.var.arg_i))
        }
        content_by_lua_block { ngx.say("content") }
    }
    location = /end/access {
        access_by_lua_block {
            require("fuzzargs").ender(ngx.var.arg_f, tonumber(ngx.var.arg_i))
        }
        content_by_lua_block { ngx.say("content") }
    }
    location = /end/content {
        content_by_lua_block {
            require("fuzzargs").ender(ngx.var.arg_f, tonumber(ngx.var.arg_i))
        }
    }
};

# Each block: the function named in its title, all phases and values, then
# /alive.
add_block_preprocessor(sub {
    my $block = shift;
    my ($f) = $block->name =~ /enders: (\S+)/ or return;
    my @reqs;
    for my $p (@Phases) {
        push @reqs, map { "GET /end/$p?f=$f&i=$_" } 1 .. $NValues;
    }
    push @reqs, "GET /alive";
    $block->set_value("request", \@reqs);
    # no status when the connection closes without a response (exit(-1)
    # is NGX_ERROR; a raw request socket owns the connection); a request
    # that hangs fails as "client socket timed out"
    $block->set_value("error_code_like", [(qr/^(\d{3})?$/) x (@reqs - 1), qr/^200$/]);
    $block->set_value("http_config", $HttpConfig);
    $block->set_value("config", $Config);
    $block->set_value("no_error_log", [
        qr/\[(?:alert|emerg|crit)\] \d+#\d+: (?:\*\d+ )?+(?!\[lua\])/,
        "exited on signal", "panicked",
    ]);
});

# debug lines of a few hundred requests would take most of the time
log_level("warn");
plan tests => blocks() * (@Phases * $NValues + 1) * 4;
run_tests();

__DATA__

=== TEST 1: enders: exit
=== TEST 2: enders: exec
=== TEST 3: enders: exec_args
=== TEST 4: enders: redirect
=== TEST 5: enders: redirect_status
=== TEST 6: enders: set_uri_jump
=== TEST 7: enders: req_socket
