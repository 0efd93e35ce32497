package Test::Nginx::Socket::Lua::Stream;

# The stream (ngx_stream_lua) flavour is not supported by this harness.

die "Test::Nginx::Socket::Lua::Stream is not supported by the ngx-lua-rs harness\n";

1;
