package Test::Resty;

# ngx-lua-rs harness for scripts/resty: each block runs the resty command
# once and checks its stdout, its stderr and its exit status (three checks
# per block, so files plan `blocks() * 3`). See t/README.md.
#
# Sections:
#   opts       words before the script, split as a shell would
#   src        the script, written as test.lua in the block's directory
#              (absent: no script, the block's opts carry -e)
#   args       words after the script
#   stdin      fed to resty's stdin (default: empty)
#   user_files files for the block's directory: `>>> path` then the content
#   out / out_like    stdout, exactly / a regex (absent: must be empty)
#   err / err_like    stderr, exactly / a regex (absent: must be empty)
#   ret        the exit status (default 0)
#   no_module  don't pass --module: resty finds the module itself
#   timeout    seconds (default 10)
#
# resty runs in the block's own temporary directory (so error messages name
# test.lua), with `--nginx $TEST_NGINX_BINARY` and `--module` set to the
# ngx_http_lua_module.so of `$TEST_NGINX_LOAD_MODULES` when those are set.
# `$TEST_NGINX_*` in opts, args, src, user_files and expectations is replaced
# by the environment's value, `$DIR` by the block's directory.
# $TEST_RESTY names the resty to run (default: this checkout's scripts/resty).

use Test::Base -base;

use strict;
use warnings;

use File::Spec ();
use File::Temp ();
use Text::ParseWords ();
use Time::HiRes ();

our @EXPORT = qw(run_tests resty_cmd resty_spawn ensure_redis);

my $root = File::Spec->rel2abs(__FILE__);
$root =~ s{/t/lib/Test/Resty\.pm$}{};

our $Resty = $ENV{TEST_RESTY} || "$root/scripts/resty";

# The resty command line that selects the nginx and module under test.
sub resty_cmd {
    my (%o) = @_;
    my @cmd = ($Resty);
    push @cmd, '--nginx', $ENV{TEST_NGINX_BINARY} if $ENV{TEST_NGINX_BINARY};
    if (!$o{no_module}) {
        my ($so) = grep { m{(?:^|/)ngx_http_lua_module\.so$} }
            split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
        push @cmd, '--module', $so if $so;
    }
    return @cmd;
}

sub expand {
    my ($s, $dir) = @_;
    return $s if !defined $s;
    $s =~ s/\$(TEST_NGINX_[A-Z0-9_]+)/defined $ENV{$1} ? $ENV{$1} : ''/ge;
    $s =~ s/\$DIR\b/$dir/g if defined $dir;
    return $s;
}

sub write_file {
    my ($path, $data) = @_;
    open my $fh, '>', $path or die "cannot write $path: $!";
    print $fh $data;
    close $fh;
}

# Starts resty (the words after resty_cmd) in $dir with stdin/stdout/stderr
# on the given files; returns the pid.
sub resty_spawn {
    my (%o) = @_;
    my $pid = fork;
    die "fork: $!" if !defined $pid;
    if (!$pid) {
        setpgrp(0, 0) if $o{own_group};
        chdir $o{dir} or die "chdir $o{dir}: $!";
        open STDIN, '<', $o{stdin} or die "$o{stdin}: $!";
        open STDOUT, '>', $o{stdout} or die "$o{stdout}: $!" if $o{stdout};
        open STDERR, '>', $o{stderr} or die "$o{stderr}: $!" if $o{stderr};
        exec { $o{cmd}[0] } @{ $o{cmd} } or die "exec $o{cmd}[0]: $!";
    }
    return $pid;
}

sub slurp {
    my $path = shift;
    open my $fh, '<', $path or return '';
    local $/;
    my $d = <$fh>;
    return defined $d ? $d : '';
}

# A section's value (undef when absent), as Test::Base stores it.
sub sec {
    my ($block, $name) = @_;
    my $v = $block->{$name};
    return $v if ref $v ne 'ARRAY';
    return @$v ? $v->[0] : undef;
}

sub run_block {
    my $block = shift;
    my $name = $block->name;
    my $dir = File::Temp::tempdir('resty-test-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    if (defined(my $files = sec($block, 'user_files'))) {
        for my $f (split /^>>> /m, $files) {
            next if $f !~ /\S/;
            my ($path, $content) = $f =~ /^(\S+)[^\n]*\n(.*)\z/s or die "$name: bad user_files";
            my $full = "$dir/$path";
            (my $parent = $full) =~ s{/[^/]+$}{};
            system('mkdir', '-p', $parent) == 0 or die "mkdir $parent";
            write_file($full, expand($content, $dir));
        }
    }

    my @cmd = resty_cmd(no_module => defined sec($block, 'no_module'));
    my $opts = expand(sec($block, 'opts'), $dir);
    push @cmd, Text::ParseWords::shellwords($opts) if defined $opts;
    if (defined(my $src = sec($block, 'src'))) {
        write_file("$dir/test.lua", expand($src, $dir));
        push @cmd, 'test.lua';
    }
    my $args = expand(sec($block, 'args'), $dir);
    push @cmd, Text::ParseWords::shellwords($args) if defined $args;

    write_file("$dir/.stdin", defined sec($block, 'stdin') ? expand(sec($block, 'stdin'), $dir) : '');
    my $pid = resty_spawn(cmd => \@cmd, dir => $dir, stdin => "$dir/.stdin",
        stdout => "$dir/.stdout", stderr => "$dir/.stderr");

    my $timeout = sec($block, 'timeout') || 10;
    my $deadline = Time::HiRes::time() + $timeout;
    my $status;
    while (1) {
        my $r = waitpid $pid, 1;    # WNOHANG
        if ($r == $pid) { $status = $?; last }
        if (Time::HiRes::time() > $deadline) {
            kill 'INT', $pid;
            waitpid $pid, 0;
            $status = -1;
            last;
        }
        Time::HiRes::sleep(0.005);
    }
    my $out = slurp("$dir/.stdout");
    my $err = slurp("$dir/.stderr");

    my $want_out = expand(sec($block, 'out'), $dir);
    my $want_out_like = expand(sec($block, 'out_like'), $dir);
    my $want_err = expand(sec($block, 'err'), $dir);
    my $want_err_like = expand(sec($block, 'err_like'), $dir);

    if (defined $want_out_like) {
        Test::More::like($out, qr/$want_out_like/ms, "$name - stdout");
    } else {
        Test::More::is($out, defined $want_out ? $want_out : '', "$name - stdout");
    }
    if (defined $want_err_like) {
        Test::More::like($err, qr/$want_err_like/ms, "$name - stderr");
    } else {
        Test::More::is($err, defined $want_err ? $want_err : '', "$name - stderr");
    }
    my $ret = sec($block, 'ret');
    $ret = 0 if !defined $ret || $ret eq '';
    if ($status == -1) {
        Test::More::fail("$name - exit status: timed out after ${timeout}s");
    } elsif ($status & 127) {
        Test::More::fail("$name - exit status: killed by signal " . ($status & 127));
    } else {
        Test::More::is($status >> 8, $ret, "$name - exit status");
    }
}

# A Redis on 127.0.0.1:$TEST_NGINX_REDIS_PORT (default 6379): the one
# scripts/test started, else one started here (stopped at exit).
my ($redis_pid, $redis_dir);
sub ensure_redis {
    $ENV{TEST_NGINX_REDIS_PORT} ||= 6379;
    my $port = $ENV{TEST_NGINX_REDIS_PORT};
    require IO::Socket::INET;
    my $up = sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
    };
    return $port if $up->();
    $redis_dir = File::Temp::tempdir('resty-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $redis_pid = fork;
    die "fork: $!" if !defined $redis_pid;
    if (!$redis_pid) {
        open STDOUT, '>', "$redis_dir/redis.log";
        exec 'redis-server', '--port', $port, '--bind', '127.0.0.1', '--save', '',
            '--appendonly', 'no', '--dir', $redis_dir
            or die "redis-server: $!";
    }
    for (1 .. 200) {
        return $port if $up->();
        Time::HiRes::sleep(0.025);
    }
    die "no Redis on 127.0.0.1:$port";
}

END {
    if ($redis_pid) {
        kill 'TERM', $redis_pid;
        waitpid $redis_pid, 0;
    }
}

sub run_tests {
    for my $block (Test::Base::blocks()) {
        run_block($block);
    }
}

1;
