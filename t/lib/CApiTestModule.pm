package CApiTestModule;
# Builds t/36-c-api/capi_test_module.c, a third-party nginx module that uses
# the public C API, against the headers of the nginx under test
# (TEST_NGINX_BINARY), and appends it to TEST_NGINX_LOAD_MODULES (after our
# module, whose symbols it links to at load time).
#
# Headers: Debian's nginx (/usr/sbin/nginx) -> the configured nginx-dev tree
# of scripts/nginx-system-build (NGINX_BUILD_DIR or build/nginx-system/objs);
# another nginx -> the nginx-sys build whose objs/nginx is that binary (the
# vendored build). LuaJIT's headers come from mlua's build.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Compare qw(compare);
use File::Temp qw(tempdir);

my $repo = abs_path(dirname(__FILE__) . '/../..');

sub objs_dir {
    my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    $bin = abs_path($bin) // $bin;
    if ($bin eq '/usr/sbin/nginx') {
        my $d = $ENV{NGINX_BUILD_DIR} || "$repo/build/nginx-system/objs";
        return (-f "$d/ngx_auto_config.h") ? ($d, dirname($d)) : ();
    }
    for my $d (glob("$repo/target/*/release/build/nginx-sys-*/out/objs"),
               glob("$repo/target/release/build/nginx-sys-*/out/objs")) {
        next unless -f "$d/nginx" && compare("$d/nginx", $bin) == 0;
        open my $fh, '<', "$d/last-build-info" or next;
        my $info = <$fh>;
        my ($src) = $info =~ /^"([^"]+)"/ or next;
        return ($d, $src);
    }
    return ();
}

sub build {
    my ($objs, $src) = objs_dir();
    die "C API test: no nginx headers found for " . ($ENV{TEST_NGINX_BINARY} || 'nginx') . "\n"
        unless $objs;
    my ($luainc) = grep { -f "$_/lua.h" }
        glob("$repo/target/release/build/mlua-sys-*/out/luajit-build/include"),
        glob("$repo/target/*/release/build/mlua-sys-*/out/luajit-build/include");
    die "C API test: LuaJIT headers not found\n" unless $luainc;
    open my $mk, '<', "$objs/Makefile" or die "$objs/Makefile: $!\n";
    my (@inc, $in);
    while (my $l = <$mk>) {
        if ($l =~ /^ALL_INCS\s*=/) { $in = 1 }
        elsif ($in && $l !~ /^\s/) { last }
        next unless $in;
        while ($l =~ /-I\s*(\S+)/g) {
            my $p = $1;
            push @inc, $p =~ m{^/} ? $p : $p eq 'objs' ? $objs : "$src/$p";
        }
    }
    close $mk;
    my $out = tempdir('capi-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/capi_test_module.so';
    my @cmd = ('cc', '-shared', '-fPIC', '-O1', '-Wall', '-Werror', '-Wno-unused-parameter',
               (map { "-I$_" } @inc, $luainc), '-o', $out, "$repo/t/36-c-api/capi_test_module.c");
    system(@cmd) == 0 or die "C API test: compiling the test module failed: @cmd\n";
    $ENV{TEST_NGINX_LOAD_MODULES} = join ' ', grep { defined && length }
        $ENV{TEST_NGINX_LOAD_MODULES}, $out;
    return $out;
}

1;
