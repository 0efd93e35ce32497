package Test::Nginx::Socket::Lua::Stream;

# ngx-lua-rs harness: OpenResty's stream flavour.  ngx-lua-rs is an http
# module, so stream-side Lua cannot work; this wrapper only lets files that
# "use" it load.  Blocks with stream_config / stream_server_config get a
# stream {} block in their main config (on $TEST_NGINX_STREAM_PORT, default
# a free port); their other sections run as usual.

use Test::Nginx::Socket::Lua -base;

use strict;
use warnings;

our $StreamPort = $ENV{TEST_NGINX_STREAM_PORT} || Test::Nginx::Socket::gen_rand_port();
$ENV{TEST_NGINX_STREAM_PORT} = $StreamPort;

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;
    my $cfg = Test::Nginx::Socket::sec($block, 'stream_config');
    my $srv = Test::Nginx::Socket::sec($block, 'stream_server_config');
    return if !defined $cfg && !defined $srv;
    my $main = Test::Nginx::Socket::sec($block, 'main_config') // '';
    $main .= "\nstream {\n" . ($cfg // '') . "\n    server {\n"
           . "        listen $StreamPort;\n" . ($srv // '') . "\n    }\n}\n";
    $block->set_value('main_config', $main);
});

1;
