# ndk.set_var.DIRECTIVE: without an NDK module there is no `ndk` table (as
# upstream built without NDK); with NDK-based modules loaded (opt-in: set
# TEST_NGINX_NDK_MODULES_DIR to a directory with Debian's
# ndk_http_module.so and ngx_http_set_misc_module.so built for the nginx
# under test), their set_var directives are Lua functions.
use Test::Nginx::Socket::Lua;

plan tests => blocks() * 2;
run_tests();

__DATA__

=== TEST 1: ndk.set_var: no ndk table without an NDK module
--- config
    location = /t {
        content_by_lua_block {
            ngx.say(ndk == nil, " ", package.loaded.ndk == nil)
            local ok, err = pcall(function() return ndk.set_var.set_quote_sql_str end)
            ngx.say(err)
        }
    }
--- request
GET /t
--- response_body_like chomp
\Atrue true
.*attempt to index global 'ndk' \(a nil value\)
\z



=== TEST 2: ndk.set_var: set_misc's directives as functions
--- skip_eval: 2: !$ENV{TEST_NGINX_NDK_MODULES_DIR}
--- main_config
    load_module $TEST_NGINX_NDK_MODULES_DIR/ndk_http_module.so;
    load_module $TEST_NGINX_NDK_MODULES_DIR/ngx_http_set_misc_module.so;
--- config
    location = /t {
        content_by_lua_block {
            local quote = ndk.set_var.set_quote_sql_str
            ngx.say(quote("a'b"), " ", ndk.set_var.set_escape_uri("a b"), " ",
                    ndk.set_var.set_encode_base32(12), " ", require("ndk") == ndk)
            local ok, err = pcall(function() return ndk.set_var.no_such_directive end)
            ngx.say(err)
            ok, err = pcall(function() ndk.set_var.set_escape_uri = 1 end)
            ngx.say(err)
        }
    }
--- request
GET /t
--- response_body_like chomp
\A'a\\'b' a%20b 64p0==== true
.*ndk.set_var: directive "no_such_directive" not found or does not use ndk_set_var_value
.*not allowed
\z
