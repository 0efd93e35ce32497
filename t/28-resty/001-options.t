# scripts/resty: its command-line options.
use Test::Resty;

# What TEST 11 compares ngx.config.nginx_version with.
my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
if (`$bin -v 2>&1` =~ m{nginx/([0-9]+)\.([0-9]+)\.([0-9]+)}) {
    $ENV{RESTY_TEST_NGINX_VERSION} = $1 * 1000000 + $2 * 1000 + $3;
}

plan tests => blocks() * 3;
run_tests();

__DATA__

=== TEST 1: resty -e: print and ngx.say write to stdout, values rendered as resty-cli does
--- opts: -e 'print("a", 1, nil, true, false, ngx.null, {"t", {"u"}}) ngx.say("say") ngx.print("p", 2.5, "\n")'
--- out
a1niltruefalsenulltu
say
p2.5



=== TEST 2: resty -e: several -e run in order as one chunk
--- opts: -e 'local x = 6' -e 'print(x * 7)'
--- out
42



=== TEST 3: resty -l: requires a library found through -I, before the code
--- user_files
>>> lib/hello.lua
print("loading hello")
_G.hello_loaded = true
return {}
--- opts: -I lib -l hello -e 'print("loaded: ", hello_loaded)'
--- out
loading hello
loaded: true
--- err_like: ^(?!.*\[error\])



=== TEST 4: resty -I: several directories, DIR/?.lua and DIR/?/init.lua
--- user_files
>>> a/one.lua
return "one"
>>> b/two/init.lua
return "two"
--- opts: -I a -I b -e 'print(require("one"), " ", require("two"))'
--- out
one two



=== TEST 5: resty -I: DIR/?.so on package.cpath
--- opts: -I /some/dir -e 'print(package.cpath:find("/some/dir/?.so", 1, true) ~= nil)'
--- out
true



=== TEST 6: resty --shdict: several shared dicts, usable from the script
--- opts: --shdict 'cats 1m' --shdict='dogs 64k' -e 'local c = ngx.shared.cats print((c:set("k", 7))) print(c:get("k"), " ", ngx.shared.dogs:capacity())'
--- out
true
7 65536



=== TEST 7: resty --shdict: a value that is not NAME SIZE is refused
--- opts: --shdict 'cats' -e 'print(1)'
--- err_like: \Aresty: invalid --shdict option value: 'cats' \(expecting 'NAME SIZE'\)\n
--- ret: 1



=== TEST 8: resty --http-conf: the snippet goes into http {}
--- opts: --http-conf 'init_by_lua_block { _G.from_http = 42 }' --http-conf 'lua_shared_dict extra 32k;' -e 'print(from_http, " ", ngx.shared.extra ~= nil)'
--- out
42 true



=== TEST 9: resty --main-conf: the snippet goes into the main context
--- opts: --main-conf 'env RESTY_TEST_VAR=from-main-conf;' -e 'print(os.getenv("RESTY_TEST_VAR"))'
--- out
from-main-conf



=== TEST 10: resty --http-include and --main-include: files included in their contexts
--- user_files
>>> http.conf
lua_shared_dict included 16k;
>>> main.conf
env RESTY_INCLUDED=yes;
--- opts: --http-include http.conf --main-include main.conf -e 'print(ngx.shared.included ~= nil, " ", os.getenv("RESTY_INCLUDED"))'
--- out
true yes



=== TEST 11: resty --nginx: the nginx binary that runs the code
--- opts: -e 'print(ngx.config.nginx_version == tonumber(os.getenv("RESTY_TEST_NGINX_VERSION")))'
--- out
true



=== TEST 12: resty --nginx: a binary that cannot run is reported before anything starts
--- opts: --nginx /nonexistent/nginx -e 'print(1)'
--- err
resty: cannot run nginx '/nonexistent/nginx' (install nginx or pass --nginx PATH)
--- ret: 1



=== TEST 13: resty --module: a module file that does not exist
--- opts: --module /nonexistent/ngx_http_lua_module.so -e 'print(1)'
--- err
resty: module /nonexistent/ngx_http_lua_module.so not found
--- ret: 1



=== TEST 14: resty: without --module, the module next to nginx or the checkout's build is found
--- no_module
--- opts: -e 'print(ngx.config.ngx_lua_version)'
--- out
10026



=== TEST 15: resty -j off: the JIT compiler is off
--- opts: -j off -e 'print((jit.status()))'
--- out
false



=== TEST 16: resty -j v: jit.v reports traces on stderr
--- opts: -j v -e 'local s = 0 for i = 1, 300 do s = s + i end print(s)'
--- out
45150
--- err_like: \A(?:\[TRACE [^\n]*\n)*\[TRACE\s+\d+ \(command line -e\):1 loop\]\n(?:\[TRACE [^\n]*\n)*\z



=== TEST 17: resty -j dump: jit.dump writes traces with their IR to stdout
--- opts: -j dump -e 'local s = 0 for i = 1, 300 do s = s + i end io.stdout:write(s, "\n")'
--- out_like: \A.*---- TRACE (\d+) start \(command line -e\):1\n.*---- TRACE \1 IR\n.*---- TRACE \1 stop -> loop\n.*^45150\n\z



=== TEST 18: resty -j: an unknown mode is refused
--- opts: -j fast -e 'print(1)'
--- err_like: \Aresty: unknown -j option value: fast \(expecting off, v or dump\)\n\nusage: resty
--- ret: 1



=== TEST 19: resty -c: worker_connections of the generated configuration
--- opts: -c 17 --dump-nginx-conf -e 'print(1)'
--- out_like: ^events \{\n    worker_connections 17;\n\}$



=== TEST 20: resty -c: the limit applies to the script's cosockets
--- opts: -c 4 -e 'local n = 0 for i = 1, 10 do local s = ngx.socket.udp() if not s:setpeername("127.0.0.1", 9) then break end n = n + 1 end print(n < 4)'
--- out
true
--- err_like: \[alert\] [^\n]+ 4 worker_connections are not enough, context: ngx\.timer



=== TEST 21: resty -c: without it, 64 connections
--- opts: -e 'local n = 0 for i = 1, 10 do local s = ngx.socket.udp() if not s:setpeername("127.0.0.1", 9) then break end n = n + 1 end print(n)'
--- out
10



=== TEST 22: resty -c: a value that is not a number is refused
--- opts: -c many -e 'print(1)'
--- err_like: \Aresty: option -c value must be a number but found 'many'\n
--- ret: 1



=== TEST 23: resty --errlog-level: nginx's log lines at that level reach stderr
--- opts: --errlog-level info -e 'ngx.log(ngx.INFO, "hello at info") print("done")'
--- out
done
--- err_like: \[info\] \d+#\d+: \*\d+ \[lua\] \(command line -e\):1: hello at info, context: ngx\.timer



=== TEST 24: resty --errlog-level: the default, warn, leaves info lines out
--- opts: -e 'ngx.log(ngx.INFO, "hidden") ngx.log(ngx.WARN, "shown")'
--- err_like: \A[^\n]+\[warn\] [^\n]+ \(command line -e\):1: shown, context: ngx\.timer\n\z



=== TEST 25: resty -V: resty's version, the module, nginx -V
--- opts: -V
--- out_like: \Aresty \S+ \(ngx-lua-rs\)\nmodule: /\S+ngx_http_lua_module\.so\nnginx version: nginx/[0-9.]+\n.*configure arguments:



=== TEST 26: resty -h: the usage on stdout
--- opts: -h
--- out_like: \Ausage: resty \[options\] \[script\.lua \[args\.\.\.\]\]\n.*\n  -e CODE .*--shdict 'NAME SIZE'



=== TEST 27: resty: an unknown option prints the usage on stderr
--- opts: --frobnicate -e 'print(1)'
--- err_like: \Aresty: unknown option --frobnicate\n\nusage: resty
--- ret: 1



=== TEST 28: resty: an option without its value
--- opts: -e
--- err_like: \Aresty: option -e takes an argument but found none\n
--- ret: 1



=== TEST 29: resty: neither a script nor -e
--- opts: -I lib
--- err_like: \Aresty: neither a Lua script nor -e CODE given\n
--- ret: 1



=== TEST 30: resty --dump-nginx-conf: the configuration, nothing run
--- opts: --dump-nginx-conf --shdict 'd 1m' -I lib -e 'print("not run")'
--- out_like: \Aload_module "/\S+/ngx_http_lua_module\.so";\ndaemon off;\nmaster_process off;\n.*    lua_shared_dict d 1m;\n    lua_package_path "lib/\?\.lua;lib/\?/init\.lua;;";\n.*    init_worker_by_lua_file "/\S+/conf/resty\.lua";\n\}\n\z



=== TEST 31: resty --ns and --resolve-ipv6: the resolver line
--- opts: --ns 127.0.0.1 --ns '[::1]' --resolve-ipv6 --dump-nginx-conf -e 'print(1)'
--- out_like: ^    resolver 127\.0\.0\.1 \[::1\];$



=== TEST 32: resty --ns: a name server is an IP address
--- opts: --ns localhost -e 'print(1)'
--- err_like: \Aresty: invalid --ns option value: localhost \(expecting an IP address\)
--- ret: 1



=== TEST 33: resty --load-module: another module is loaded before the code runs
--- opts: --load-module /nonexistent/ngx_other_module.so -e 'print(1)'
--- err_like: \[emerg\] \d+#\d+: dlopen\(\) "/nonexistent/ngx_other_module\.so" failed
--- ret: 1
