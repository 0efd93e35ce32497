package Test::Nginx::Socket::Lua;

# ngx-lua-rs harness: the name OpenResty test files "use" for ngx_lua tests.
# Everything lives in Test::Nginx::Socket; this only re-exports it and
# honours TEST_NGINX_INIT_BY_LUA (extra Lua code run by init_by_lua).

use Test::Nginx::Socket -base;

use strict;
use warnings;

our $VERSION = '0.1';

if (my $code = $ENV{TEST_NGINX_INIT_BY_LUA}) {
    Test::Nginx::Socket::set_http_config_filter(sub {
        my $config = shift;
        return $config if $config =~ /init_by_lua_file/;
        if ($config =~ s/\binit_by_lua_block\s*\{/init_by_lua_block { $code\n/s) {
            return $config;
        }
        if ($config =~ /\binit_by_lua\s/) {
            # leave the user's own init_by_lua alone
            return $config;
        }
        return "$config\n    init_by_lua_block { $code }\n";
    });
}

1;
