# scripts/resty: Ctrl-C (SIGINT), SIGTERM and SIGHUP stop the script at once
# and leave no nginx process and no temporary prefix behind. Plain perl: each
# case starts resty, waits for the script's first line (nginx's pid and
# prefix), sends the signal, and checks what is left.
use strict;
use warnings;

use Test::More;
use Test::Resty;
use File::Temp ();
use Time::HiRes ();

my @cases = (
    # signal, sent to the process group (as a terminal's Ctrl-C) or to resty
    # alone, what the script does meanwhile
    [ INT  => 'group', 'ngx.sleep(30)' ],
    [ INT  => 'resty', 'ngx.sleep(30)' ],
    [ INT  => 'resty', 'local n = 0 while true do n = n + 1 end' ],
    [ INT  => 'resty', 'io.read("*a")' ],
    [ TERM => 'resty', 'ngx.sleep(30)' ],
    [ HUP  => 'resty', 'ngx.sleep(30)' ],
);
my %signo = (INT => 2, TERM => 15, HUP => 1);

plan tests => @cases * 4 + 2;

my $dir = File::Temp::tempdir('resty-sig-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub alive {
    my $pid = shift;
    return 0 if !kill 0, $pid;
    # A zombie is as good as gone, though resty reaps nginx itself.
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh>;
    return $stat !~ /^\d+ \(.*\) Z/;
}

for my $case (@cases) {
    my ($sig, $to, $code) = @$case;
    my $name = "resty: SIG$sig to the " . ($to eq 'group' ? 'process group' : 'resty process')
        . " while the script runs '$code'";
    # stdin is a pipe nobody writes to, so io.read blocks.
    pipe(my $in_r, my $in_w) or die;
    pipe(my $out_r, my $out_w) or die;
    my $pid = fork;
    die "fork: $!" if !defined $pid;
    if (!$pid) {
        setpgrp(0, 0);
        close $in_w;
        close $out_r;
        open STDIN, '<&', $in_r or die;
        open STDOUT, '>&', $out_w or die;
        open STDERR, '>', "$dir/stderr" or die;
        my @cmd = (resty_cmd(), '-e',
            'print(ngx.worker.pid(), " ", ngx.config.prefix()) io.stdout:flush() ' . $code);
        exec { $cmd[0] } @cmd or die "exec: $!";
    }
    close $in_r;
    close $out_w;
    my $line = <$out_r>;
    my ($nginx_pid, $prefix) = split ' ', ($line // '');
    ok(defined $prefix && -d $prefix && alive($nginx_pid),
        "$name - nginx runs in its prefix") or diag("first line: " . ($line // '(none)'));
    $nginx_pid ||= 0;
    $prefix ||= '/nonexistent';

    my $t0 = Time::HiRes::time();
    kill $sig, $to eq 'group' ? -$pid : $pid;
    my $status;
    while (Time::HiRes::time() - $t0 < 5) {
        if (waitpid($pid, 1) == $pid) {
            $status = $?;
            last;
        }
        Time::HiRes::sleep(0.01);
    }
    if (!defined $status) {
        kill 'KILL', -$pid;
        waitpid $pid, 0;
    }
    is(defined $status ? $status & 127 : 'still running', $signo{$sig},
        "$name - resty ends by the same signal");
    ok(!alive($nginx_pid), "$name - no nginx process left");
    ok(!-e $prefix, "$name - no temporary prefix left");
    close $in_w;
    close $out_r;
}

# A normal run removes its prefix too, and exits 0.
{
    my @cmd = (resty_cmd(), '-e', 'print(ngx.config.prefix())');
    open my $fh, '-|', @cmd or die;
    my $prefix = <$fh>;
    close $fh;
    is($?, 0, 'resty: a normal run exits 0');
    chomp $prefix if defined $prefix;
    ok(defined $prefix && $prefix =~ m{/resty_\w+/$} && !-e $prefix, 'resty: a normal run leaves no prefix')
        or diag("prefix: " . ($prefix // '(none)'));
}
