package Test::Nginx::Socket;

# ngx-lua-rs test harness: a data-driven nginx test engine that reads the
# block format used by OpenResty's Test::Nginx::Socket test suites.
# Written from scratch for this project; see t/README.md.

use Test::Base -base;

use strict;
use warnings;
no warnings 'redefine';

use Cwd ();
use Errno ();
use File::Basename ();
use File::Path ();
use File::Spec ();
use File::Temp ();
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use Test::More ();
use Time::HiRes ();

our $VERSION = '0.1';

our @EXPORT = qw(
    run_tests run_test plan blocks repeat_each no_shuffle no_long_string
    log_level master_on master_off master_process_enabled workers
    worker_connections env_to_nginx add_block_preprocessor no_root_location
    server_name server_addr html_dir server_root server_port port
    server_port_for_client timeout config_preamble check_accum_error_log
    use_hup no_nginx_manager is_str is_string bail_out add_cleanup_handler
    add_response_body_check set_http_config_filter worker_user
    error_log_data get_pid_from_pidfile
);

# ---------------------------------------------------------------- settings

our $RepeatEach        = 1;
our $NoLongString      = 0;
our $LogLevel          = 'debug';
our $MasterProcessEnabled = 'off';
our $Workers           = 1;
our $WorkerConnections = 64;
our @EnvToNginx;
our @BlockPreprocessors;
our @ResponseBodyChecks;
our @CleanupHandlers;
our $NoRootLocation    = 0;
our $ServerName        = 'localhost';
our $ServerAddr        = '127.0.0.1';
# valgrind and partial I/O (TEST_NGINX_MOCKEAGAIN) make nginx slow
our $Timeout           = $ENV{TEST_NGINX_MOCKEAGAIN} ? 30 : $ENV{TEST_NGINX_USE_VALGRIND} ? 20 : 3;
our $ConfigPreamble    = '';
our $HttpConfigFilter;
our $NoNginxManager    = 0;
our $CheckAccumErrLog  = 0;
our $WorkerUser;

our $UseHup      = $ENV{TEST_NGINX_USE_HUP} ? 1 : 0;
# also reload between the requests (and repeats) of a block
our $HupEachRequest = $ENV{TEST_NGINX_HUP_EACH_REQUEST} ? 1 : 0;
$UseHup = 1 if $HupEachRequest;
our $UseValgrind = $ENV{TEST_NGINX_USE_VALGRIND};
our $NoClean     = $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0;
# partial socket I/O for nginx through t/mockeagain (r, w or rw)
our $MockEagain  = $ENV{TEST_NGINX_MOCKEAGAIN};
# `--- no_mockeagain`: this block's nginx runs without the shim;
# `--- mockeagain_max: N`: it moves up to N bytes a call (big bodies)
our $BlockNoMock = 0;
our $BlockMockMax;
# `--- rlimit_as: BYTES`: this block's nginx runs under `prlimit --as`
# (an address-space limit, inherited by the workers; not under valgrind,
# whose own mappings would not fit); such a block gets a fresh nginx
our $BlockRlimitAs;
our $CheckLeak   = $ENV{TEST_NGINX_CHECK_LEAK};
our $Verbose     = $ENV{TEST_NGINX_VERBOSE};

our $MainPid = $$;

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || find_nginx_binary();

our ($ServRoot, $ServRootGiven);
if ($ENV{TEST_NGINX_SERVROOT}) {
    $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT});
    $ServRootGiven = 1;
} else {
    my $n = $0;
    $n =~ s{^\./}{};
    $n =~ s{^t/}{};
    $n =~ s/[^A-Za-z0-9_.-]+/_/g;
    my $cwd = Cwd::getcwd();
    my $base = -d "$cwd/t" ? "$cwd/t" : File::Spec->tmpdir;
    $ServRoot = "$base/servroot-$n";
}
our $HtmlDir    = "$ServRoot/html";
our $LogDir     = "$ServRoot/logs";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile    = "$LogDir/nginx.pid";
our $StderrFile = "$LogDir/stderr.log";

our $ServerPort = $ENV{TEST_NGINX_PORT} || $ENV{TEST_NGINX_SERVER_PORT};
our %RandPorts;
our %UsedPorts;
if (!$ServerPort) {
    $ServerPort = gen_rand_port();
}
$UsedPorts{$ServerPort} = 1;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;

$ENV{TEST_NGINX_SERVER_PORT}    = $ServerPort;
$ENV{TEST_NGINX_CLIENT_PORT}  ||= $ServerPortForClient;
$ENV{TEST_NGINX_HTML_DIR}     ||= $HtmlDir;
$ENV{TEST_NGINX_SERVROOT}       = $ServRoot;
$ENV{TEST_NGINX_SERVER_ROOT}    = $ServRoot;
$ENV{TEST_NGINX_SERVER_ADDR}  ||= $ServerAddr;
$ENV{TEST_NGINX_REDIS_PORT}   ||= 6379;
$ENV{TEST_NGINX_MEMCACHED_PORT} ||= 11211;
$ENV{TEST_NGINX_RESOLVER}     ||= '8.8.8.8';
$ENV{TEST_NGINX_BINARY_PATH}  ||= $NginxBinary;

our $NginxVersion = nginx_version();
our $PcreVersion = pcre_version();

# run-time state
our $NginxPid;          # pid of the running nginx (master or single process)
our $NginxChild;        # our own child when nginx runs in the foreground
our $NginxUp = 0;
our $ErrLogPos = 0;
our %GonePids;          # workers of configurations a HUP replaced
our $CurBlockName;      # for reports made when nginx stops
our $ConfigVersion = 0;
our @FakeServers;       # pids
our $Started = 0;

$SIG{PIPE} = 'IGNORE';
for my $sig (qw(TERM INT HUP)) {
    $SIG{$sig} = sub {
        cleanup_all();
        POSIX::_exit(1);
    };
}

# ---------------------------------------------------------------- helpers

sub find_nginx_binary {
    for my $dir (split /:/, $ENV{PATH} || '') {
        return "$dir/nginx" if -x "$dir/nginx" && !-d "$dir/nginx";
    }
    return '/usr/sbin/nginx';
}

sub port_is_free {
    my $port = shift;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or return 0;
    close $s;
    my $s2 = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port,
                                   Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or return 0;
    close $s2;
    my $u = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                  Proto => 'udp')
        or return 0;
    close $u;
    return 1;
}

sub gen_rand_port {
    for (1 .. 200) {
        my $p = 10000 + int(rand(20000));
        next if $UsedPorts{$p};
        if (port_is_free($p)) {
            $UsedPorts{$p} = 1;
            return $p;
        }
    }
    die "cannot find a free TCP port\n";
}

sub bail_out {
    my $msg = join '', @_;
    cleanup_all();
    Test::More::BAIL_OUT($msg) if $ENV{TEST_NGINX_REAL_BAIL_OUT};
    die "$msg\n";
}

sub repeat_each { $RepeatEach = shift if @_; return $RepeatEach }
sub no_shuffle () { }
sub no_long_string () { $NoLongString = 1 }
sub log_level { $LogLevel = shift if @_; return $LogLevel }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub master_process_enabled {
    if (@_) { $MasterProcessEnabled = $_[0] ? 'on' : 'off' }
    return $MasterProcessEnabled eq 'on' ? 1 : 0;
}
sub workers { $Workers = shift if @_; return $Workers }
sub worker_connections { $WorkerConnections = shift if @_; return $WorkerConnections }
sub env_to_nginx { push @EnvToNginx, @_ }
# The preprocessor added last runs first, as in Test::Nginx: a .t file's own
# preprocessor sees the block before the one of the module it uses (which
# then fills in only what is still unset).
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_response_body_check (&) { push @ResponseBodyChecks, shift }
sub add_cleanup_handler { push @CleanupHandlers, shift }
sub set_http_config_filter { $HttpConfigFilter = shift }
sub no_root_location () { $NoRootLocation = 1 }
sub server_name { $ServerName = shift if @_; return $ServerName }
sub server_addr { $ServerAddr = shift if @_; return $ServerAddr }
sub html_dir () { return $HtmlDir }
sub server_root () { return $ServRoot }
sub server_port { $ServerPort = shift if @_; return $ServerPort }
sub port { return server_port(@_) }
sub server_port_for_client { $ServerPortForClient = shift if @_; return $ServerPortForClient }
sub timeout { $Timeout = shift if @_; return $Timeout }
sub config_preamble { $ConfigPreamble = shift if @_; return $ConfigPreamble }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub use_hup () { $UseHup = 1 }
sub no_nginx_manager () { $NoNginxManager = 1 }
sub worker_user { $WorkerUser = shift if @_; return $WorkerUser }

sub plan {
    my @args = @_;
    if ($CheckLeak) {
        return Test::More::plan(skip_all =>
            'TEST_NGINX_CHECK_LEAK mode is not supported by this harness');
    }
    if (@args >= 2 && $args[0] eq 'tests' && ref $args[1]) {
        # "plan tests => blocks()" in list context
        @args = (tests => scalar(@args) - 1);
    }
    return Test::More::plan(@args);
}

sub parse_time {
    my $t = shift;
    return undef if !defined $t;
    $t =~ s/^\s+|\s+$//g;
    return undef if $t eq '';
    return $1 / 1000 if $t =~ /^(\d+(?:\.\d+)?)\s*ms$/;
    return $1 if $t =~ /^(\d+(?:\.\d+)?)\s*s?$/;
    return $1 * 60 if $t =~ /^(\d+(?:\.\d+)?)\s*m$/;
    return $t;
}

# value of a section in scalar form (an eval giving several values becomes
# an array ref)
sub sec {
    my ($block, $name) = @_;
    my $v = $block->{$name};
    return undef if !defined $v;
    return $v if ref $v ne 'ARRAY';
    return undef if !@$v;
    return $v->[0] if @$v == 1;
    return [@$v];
}

sub has_sec {
    my ($block, $name) = @_;
    return exists $block->{$name};
}

sub expand_env {
    my ($text, $name) = @_;
    return $text if !defined $text || ref $text;
    $text =~ s/\$(TEST_NGINX_[_A-Z0-9]+)/env_value($1, $name)/ge;
    return $text;
}

sub env_value {
    my ($var, $name) = @_;
    if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
        $RandPorts{$var} ||= gen_rand_port();
        return $RandPorts{$var};
    }
    if (!defined $ENV{$var}) {
        bail_out("$name - No environment $var defined.");
    }
    return $ENV{$var};
}

sub fmt_str {
    my $s = shift;
    return 'undef' if !defined $s;
    $s = "$s";
    chomp $s;
    $s =~ s/\n/\\n/g;
    $s =~ s/\r/\\r/g;
    return length($s) > 300 ? substr($s, 0, 300) . '...' : $s;
}

sub is_str { goto &is_string }

sub is_string {
    my ($got, $expected, $desc) = @_;
    if (!defined $got || !defined $expected || $NoLongString
        || ($got !~ /\n./s && $expected !~ /\n./s))
    {
        return Test::More::is($got, $expected, $desc);
    }
    my $tb = Test::More->builder;
    my $ok = $tb->ok($got eq $expected, $desc);
    if (!$ok) {
        my $diff;
        if (eval { require Text::Diff; 1 }) {
            $diff = Text::Diff::diff(\$expected, \$got,
                { STYLE => 'Unified', FILENAME_A => 'expected', FILENAME_B => 'got' });
        }
        if (defined $diff && $diff ne '') {
            $tb->diag("unified diff (- expected, + got):\n$diff");
        } else {
            $tb->diag("     got: '$got'\nexpected: '$expected'");
        }
        if ($got =~ /\n\z/ xor $expected =~ /\n\z/) {
            $tb->diag("(the trailing newline differs)");
        }
    }
    return $ok;
}

sub read_file_data {
    my $file = shift;
    open my $in, '<', $file or return undef;
    binmode $in;
    local $/;
    my $d = <$in>;
    close $in;
    return $d;
}

sub write_file_data {
    my ($file, $data) = @_;
    open my $out, '>', $file or bail_out("cannot write $file: $!");
    binmode $out;
    print $out $data;
    close $out;
}

sub log_tail {
    my $n = shift || 30;
    my $d = read_file_data($ErrLogFile);
    return '(no error.log)' if !defined $d;
    my @l = split /\n/, $d;
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", @l);
}

sub get_pid_from_pidfile {
    my $d = read_file_data($PidFile);
    return undef if !defined $d;
    return $1 if $d =~ /(\d+)/;
    return undef;
}

sub pid_alive {
    my $pid = shift;
    return 0 if !$pid;
    return 0 if !kill(0, $pid);
    if (open my $st, '<', "/proc/$pid/stat") {
        my $l = <$st>;
        close $st;
        return 0 if defined $l && $l =~ /^\d+ \(.*\) [ZX]/s;
    }
    return 1;
}

our $NginxV;
sub nginx_V {
    $NginxV = `$NginxBinary -V 2>&1` // '' if !defined $NginxV;
    return $NginxV;
}

sub nginx_version {
    return $NginxVersion if defined $NginxVersion;
    my $out = nginx_V();
    $NginxVersion = $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)}
        ? sprintf('%d.%03d%03d', $1, $2, $3) : '0';
    return $NginxVersion;
}

sub pcre_version {
    my $v = nginx_V();
    return 2 if $v =~ /pcre2/i;
    my $ldd = `ldd $NginxBinary 2>/dev/null` // '';
    return 2 if $ldd =~ /libpcre2/;
    return 1 if $ldd =~ /libpcre\.so/;
    return 2;
}

sub is_tcp_port_used {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    if ($s) { close $s; return 1 }
    return 0;
}

sub is_udp_port_used {
    my $port = shift;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                  Proto => 'udp');
    if ($s) { close $s; return 0 }
    return 1;
}

sub openssl_version {
    my $v = nginx_V();
    return undef if $v !~ /built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?/;
    return sprintf('%d.%03d%03d%03d', $1, $2, $3, $4 ? ord($4) - 96 : 0);
}

sub canon_version {
    my $v = shift;
    my @p = split /\./, $v;
    return sprintf('%d.%03d%03d', $p[0] || 0, $p[1] || 0, $p[2] || 0);
}

# ---------------------------------------------------------------- nginx

sub setup_server_root {
    my $fresh = shift;
    if ($fresh) {
        if (-d $ServRoot) {
            File::Path::remove_tree($ConfDir, $HtmlDir, $LogDir,
                glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
        }
    } else {
        File::Path::remove_tree($ConfDir);
    }
    File::Path::make_path($ServRoot, $ConfDir, $HtmlDir, $LogDir);
    write_file_data("$HtmlDir/index.html",
        "<html><head><title>It works!</title></head><body>It works!</body></html>");
}

sub write_user_files {
    my ($block) = @_;
    my $files = sec($block, 'user_files');
    return if !defined $files;
    my @list;
    if (ref $files eq 'ARRAY') {
        @list = map { ref $_ ? [@$_] : () } @$files;
    } else {
        my $cur;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(\d+))?\s*$/) {
                $cur = [$1, '', $2];
                push @list, $cur;
            } elsif ($cur) {
                $cur->[1] .= $line;
            }
        }
    }
    for my $f (@list) {
        my ($fname, $body, $mtime) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        File::Path::make_path($dir) if $dir ne '' && !-d $dir;
        write_file_data($path, defined $body ? $body : '');
        if ($mtime) {
            utime $mtime, $mtime, $path;
        }
    }
}

sub write_config {
    my ($block) = @_;
    my $name = $block->name;
    my $config      = expand_env(sec($block, 'config') // '', $name);
    my $http_config = expand_env(sec($block, 'http_config') // '', $name);
    my $main_config = expand_env(sec($block, 'main_config') // '', $name);
    my $post_main   = expand_env(sec($block, 'post_main_config') // '', $name);
    my $server_name = sec($block, 'server_name') // $ServerName;
    chomp $server_name;
    my $log_level = sec($block, 'log_level') // $LogLevel;
    $log_level =~ s/^\s+|\s+$//g;

    $http_config = $HttpConfigFilter->($http_config) if $HttpConfigFilter;

    my $master = $MasterProcessEnabled;
    my $daemon = 'on';
    if ($UseHup) { $master = 'on' }
    if ($UseValgrind) { $daemon = 'off' }

    my $out = '';
    for my $m (grep { length } split /\s+/, ($ENV{TEST_NGINX_LOAD_MODULES} || '')) {
        $out .= "load_module $m;\n";
    }
    $out .= "worker_processes $Workers;\n"
          . "daemon $daemon;\n"
          . "master_process $master;\n"
          . "error_log $ErrLogFile $log_level;\n"
          . "pid $PidFile;\n";
    for my $v (@EnvToNginx) {
        my $q = $v =~ /\s/ ? "'$v'" : $v;
        $out .= "env $q;\n";
    }
    $out .= "env LD_PRELOAD;\nenv LD_LIBRARY_PATH;\n";
    if (defined $WorkerUser) {
        $out .= "user $WorkerUser;\n";
    } elsif ($> == 0 && $main_config !~ /^\s*user\s/m) {
        $out .= "user root;\n";
    }
    $out .= "\n$main_config\n";

    my $temps = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        next if $t ne 'client_body' && nginx_V() =~ /--without-http_${t}_module\b/;
        $temps .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $event_type = $ENV{TEST_NGINX_EVENT_TYPE};
    $out .= "events {\n    accept_mutex off;\n"
          . "    worker_connections $WorkerConnections;\n"
          . ($event_type ? "    use $event_type;\n" : '')
          . "}\n\n";
    my $postpone = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
    if (defined $postpone && $postpone =~ /^\d+$/ && $http_config !~ /\bpostpone_output\b/) {
        $temps .= "    postpone_output $postpone;\n";
    }
    $out .= "http {\n"
          . "    access_log $AccLogFile;\n"
          . $temps
          . "    default_type text/plain;\n"
          . "    keepalive_timeout 68;\n\n"
          . "$http_config\n\n"
          . "    server {\n"
          . "        listen $ServerPort;\n"
          . "        server_name '$server_name';\n"
          . "        client_max_body_size 30M;\n\n"
          . "$ConfigPreamble\n"
          . "$config\n";
    if (!$NoRootLocation) {
        $out .= "        location / {\n"
              . "            root $HtmlDir;\n"
              . "            index index.html index.htm;\n"
              . "        }\n";
    }
    $out .= "    }\n";
    if ($UseHup) {
        $out .= "    server {\n"
              . "        listen $ServerPort;\n"
              . "        server_name 'harness-config-version';\n"
              . "        location = /harness-config-version {\n"
              . "            access_log off;\n"
              . "            return 200 '$ConfigVersion';\n"
              . "        }\n"
              . "    }\n";
    }
    $out .= "}\n\n$post_main\n";
    write_file_data($ConfFile, $out);
}

sub nginx_cmd {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    if (nginx_version() >= 1.019005) {
        push @cmd, '-e', $ErrLogFile;
    }
    if (defined $BlockRlimitAs && !$UseValgrind) {
        unshift @cmd, 'prlimit', "--as=$BlockRlimitAs";
    }
    if ($UseValgrind) {
        my $vopts = $UseValgrind =~ /^\d+$/ ? '' : $UseValgrind;
        # Only definite leaks count; --keep-debuginfo names the frames of
        # the module even though nginx unloads it before the leak check.
        my $supp = File::Spec->rel2abs(File::Basename::dirname(__FILE__) . "/../../../valgrind.suppress");
        unshift @cmd, 'valgrind', '-q', '--tool=memcheck', '--leak-check=full',
            '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite',
            '--keep-debuginfo=yes', '--num-callers=30',
            (-f $supp ? "--suppressions=$supp" : ()),
            ($ENV{TEST_NGINX_VALGRIND_GEN_SUPPRESSIONS} ? '--gen-suppressions=all' : ()),
            '--log-file=' . "$LogDir/valgrind.log",
            ($vopts ne '' ? split(/\s+/, $vopts) : ());
    }
    return @cmd;
}

# t/mockeagain/mockeagain.c built with gcc (once, shared by the files of
# a `prove -j` run: built under a temporary name, then renamed).
my $MockEagainSo;
sub mockeagain_so {
    return $MockEagainSo if $MockEagainSo;
    my $dir = File::Spec->rel2abs(File::Basename::dirname(__FILE__) . "/../../../mockeagain");
    my $src = "$dir/mockeagain.c";
    my $so = "$dir/mockeagain.so";
    if (!-f $so || -M $so > -M $src) {
        my $tmp = "$so.$$";
        system($ENV{CC} || 'gcc', '-Wall', '-shared', '-fPIC', '-O2', '-o', $tmp, $src, '-ldl') == 0
            or bail_out("cannot build $so with gcc");
        rename $tmp, $so or bail_out("rename $tmp: $!");
    }
    return $MockEagainSo = $so;
}

# run nginx in the foreground until it exits (or $limit seconds pass);
# returns the wait status (or undef if still running)
sub run_cmd_wait {
    my ($limit, @cmd) = @_;
    my $pid = fork();
    bail_out("fork failed: $!") if !defined $pid;
    my $shim = $MockEagain && !$BlockNoMock ? mockeagain_so() : undef;
    if ($pid == 0) {
        if ($shim) {
            $ENV{LD_PRELOAD} = $shim;
            $ENV{MOCKEAGAIN} = $MockEagain;
            for my $k (qw(SEED EAGAIN MAX)) {
                my $v = $ENV{"TEST_NGINX_MOCKEAGAIN_$k"};
                $ENV{"MOCKEAGAIN_$k"} = $v if defined $v;
            }
            $ENV{MOCKEAGAIN_MAX} = $BlockMockMax
                if defined $BlockMockMax && !defined $ENV{TEST_NGINX_MOCKEAGAIN_MAX};
        }
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $StderrFile;
        open STDERR, '>>', $StderrFile;
        exec @cmd or POSIX::_exit(127);
    }
    my $deadline = Time::HiRes::time() + $limit;
    while (Time::HiRes::time() < $deadline) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        return $? if $r == $pid;
        Time::HiRes::sleep(0.01);
    }
    return (undef, $pid);
}

sub start_nginx {
    my ($name) = @_;
    unlink $PidFile;
    my @cmd = nginx_cmd();
    warn "# starting: @cmd\n" if $Verbose;
    if ($UseValgrind) {
        my ($st, $pid) = run_cmd_wait(0, @cmd);
        $NginxChild = $pid;
        my $deadline = Time::HiRes::time() + 30;
        while (Time::HiRes::time() < $deadline) {
            if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
                $NginxChild = undef;
                return (0, "nginx (under valgrind) exited with status $?");
            }
            my $p = get_pid_from_pidfile();
            if ($p) { $NginxPid = $p; Time::HiRes::sleep(0.3); $NginxUp = 1; return (1) }
            Time::HiRes::sleep(0.05);
        }
        return (0, "nginx under valgrind did not write its pid file in time");
    }
    my ($st) = run_cmd_wait(15, @cmd);
    if (!defined $st) {
        return (0, "nginx did not return from daemonizing within 15s");
    }
    if ($st != 0) {
        return (0, "nginx exited with status " . ($st >> 8));
    }
    my $deadline = Time::HiRes::time() + 5;
    while (Time::HiRes::time() < $deadline) {
        my $p = get_pid_from_pidfile();
        if ($p && pid_alive($p)) {
            $NginxPid = $p;
            $NginxUp = 1;
            $Started = 1;
            return (1);
        }
        Time::HiRes::sleep(0.01);
    }
    return (0, "nginx did not write its pid file");
}

sub stop_nginx {
    my $pid = $NginxPid || get_pid_from_pidfile();
    $NginxUp = 0;
    $NginxPid = undef;
    if ($pid && pid_alive($pid)) {
        kill 'QUIT', $pid;
        my $deadline = Time::HiRes::time() + ($UseValgrind ? 30 : 5);
        while (pid_alive($pid) && Time::HiRes::time() < $deadline) {
            waitpid($NginxChild, POSIX::WNOHANG()) if $NginxChild;
            Time::HiRes::sleep(0.01);
        }
        if (pid_alive($pid)) {
            warn "WARNING: nginx $pid did not quit in time; killing it\n";
            kill 'KILL', $pid;
            my $d2 = Time::HiRes::time() + 2;
            while (pid_alive($pid) && Time::HiRes::time() < $d2) {
                Time::HiRes::sleep(0.01);
            }
        }
    }
    if ($NginxChild) {
        kill 'KILL', $NginxChild if pid_alive($NginxChild);
        waitpid($NginxChild, 0);
        $NginxChild = undef;
    }
    # nginx workers of a killed master may linger a moment
    if ($UseValgrind) {
        my $v = read_file_data("$LogDir/valgrind.log");
        unlink "$LogDir/valgrind.log";
        if (defined $v && $v =~ /\S/) {
            # Whatever the suppressions (t/valgrind.suppress) let through
            # is a defect: one extra failing check for the block.
            my @kinds = $v =~ /^==\d+== (Invalid (?:read|write|free\(\) \/ delete)[^\n]*|Mismatched free[^\n]*|Conditional jump or move depends on uninitialised value[^\n]*|Use of uninitialised value[^\n]*|Syscall param [^\n]*uninitialised[^\n]*|Source and destination overlap[^\n]*|[\d,]+ (?:\([^)]*\) )?bytes in [\d,]+ blocks are definitely lost[^\n]*)$/mg;
            my $name = $CurBlockName // 'nginx';
            if (@kinds) {
                Test::More::fail("$name - valgrind reports " . scalar(@kinds) . " error(s): $kinds[0]");
            }
            Test::More::diag("$name - valgrind report:\n$v");
        }
    }
}

sub http_get_simple {
    my ($host, $uri, $limit) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr, PeerPort => $ServerPort,
                                     Proto => 'tcp', Timeout => $limit)
        or return undef;
    print $sock "GET $uri HTTP/1.0\r\nHost: $host\r\n\r\n";
    my $sel = IO::Select->new($sock);
    my $buf = '';
    my $deadline = Time::HiRes::time() + $limit;
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($sock, my $chunk, 4096);
        last if !$n;
        $buf .= $chunk;
    }
    close $sock;
    return $buf =~ /\r\n\r\n(.*)\z/s ? $1 : undef;
}

sub reload_nginx {
    my $pid = $NginxPid;
    return (0, "no running nginx") if !$pid || !pid_alive($pid);
    my @old_workers = child_pids($pid);
    my $log_size = -s $ErrLogFile || 0;
    kill 'HUP', $pid;
    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline) {
        if ((-s $ErrLogFile || 0) > $log_size && open my $in, '<', $ErrLogFile) {
            seek $in, $log_size, 0;
            while (my $l = <$in>) {
                # (an [emerg] line that Lua code logs is not a refusal)
                if ($l =~ /\[emerg\] \d+#\d+: (?!\[lua\])/) {
                    chomp $l;
                    return (0, "nginx refused the new configuration on HUP: $l");
                }
            }
            close $in;
        }
        my $v = http_get_simple('harness-config-version', '/harness-config-version', 1);
        if (defined $v && $v eq $ConfigVersion) {
            $GonePids{$_} = 1 for @old_workers;
            # let the old workers stop accepting connections
            my $d2 = Time::HiRes::time() + 3;
            while (grep { pid_alive($_) } @old_workers) {
                last if Time::HiRes::time() > $d2;
                Time::HiRes::sleep(0.01);
            }
            return (1);
        }
        Time::HiRes::sleep(0.05);
    }
    return (0, "nginx did not load the new configuration (HUP reload) within 10s");
}

# The offset just past the last line from $from on that matches $re.
sub log_offset_after {
    my ($from, $re) = @_;
    open my $in, '<', $ErrLogFile or return undef;
    seek $in, $from, 0;
    my $found;
    while (my $l = <$in>) {
        chomp(my $c = $l);
        $found = tell($in) if $c =~ $re;
    }
    close $in;
    return $found;
}

# TEST_NGINX_HUP_EACH_REQUEST: the same configuration under a new version
# number, so that reload_nginx() can tell when the new workers answer.
sub hup_between_requests {
    my ($block) = @_;
    $ConfigVersion++;
    write_config($block);
    my ($ok, $err) = reload_nginx();
    Test::More::diag($block->name . " - HUP between requests failed: $err") if !$ok;
}

sub child_pids {
    my $ppid = shift;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $l = <$in>;
        close $in;
        next if !defined $l;
        push @kids, $1 if $l =~ /^(\d+) \(.*\) \S+ (\d+)/s && $2 == $ppid;
    }
    return @kids;
}

# ---------------------------------------------------------------- error log

sub error_log_data {
    Time::HiRes::sleep(0.03);
    open my $in, '<', $ErrLogFile or return [];
    if (!$CheckAccumErrLog && $ErrLogPos > 0) {
        seek $in, $ErrLogPos, 0;
    }
    my @lines = <$in>;
    $ErrLogPos = tell($in) if !$CheckAccumErrLog;
    close $in;
    if (%GonePids) {
        # what the workers of a configuration a HUP replaced log while
        # they shut down belongs to no block
        @lines = grep { !(/^\S+ \S+ \[\w+\] (\d+)#/ && $GonePids{$1}) } @lines;
    }
    return \@lines;
}

sub to_pattern_list {
    my $pats = shift;
    return [] if !defined $pats;
    if (!ref $pats) {
        chomp $pats;
        return [grep { length } split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';
    return [$pats];
}

sub line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub value_mentions {
    my ($pats, $str) = @_;
    for my $p (@$pats) {
        return 1 if !ref $p && index($p, $str) >= 0;
        return 1 if ref $p && "$p" =~ /\Q$str\E/;
    }
    return 0;
}

sub check_error_log {
    my ($block, $rep, $extra_lines) = @_;
    my $name = $block->name;
    my $lines = error_log_data();
    unshift @$lines, @$extra_lines if $extra_lines;

    my $grep_pat = sec($block, 'grep_error_log');
    if (defined $grep_pat) {
        if (ref $grep_pat eq 'ARRAY') { $grep_pat = $grep_pat->[$rep] }
        chomp $grep_pat if !ref $grep_pat;
        my $expected = sec($block, 'grep_error_log_out');
        if (ref $expected eq 'ARRAY') { $expected = $expected->[$rep] }
        $expected = expand_env($expected, $name);
        my $got = '';
        for my $line (@$lines) {
            if (ref $grep_pat ? $line =~ $grep_pat : $line =~ /\Q$grep_pat\E/) {
                my $m = $&;
                $got .= "$m\n" if $m !~ /\n/;
            }
        }
        my $desc = "$name - grep_error_log_out (req $rep)";
        if (ref $expected eq 'Regexp') {
            Test::More::like($got, $expected, $desc);
        } else {
            is_string($got, $expected // '', $desc);
        }
    }

    my $error_log = sec($block, 'error_log');
    my $no_error_log = sec($block, 'no_error_log');
    my $pats = to_pattern_list($error_log);
    my $npats = to_pattern_list($no_error_log);

    if (defined $error_log) {
        my @found = (0) x @$pats;
        # log-phase lines may land a little after the response
        my $deadline = Time::HiRes::time() + ($NginxUp ? 1 : 0);
        while (1) {
            for my $i (0 .. $#$pats) {
                next if $found[$i];
                for my $line (@$lines) {
                    if (line_matches($line, $pats->[$i])) { $found[$i] = 1; last }
                }
            }
            last if !grep { !$_ } @found;
            last if Time::HiRes::time() > $deadline;
            Time::HiRes::sleep(0.05);
            push @$lines, @{ error_log_data() };
        }
        for my $i (0 .. $#$pats) {
            my $p = fmt_str($pats->[$i]);
            if ($found[$i]) {
                Test::More::pass("$name - pattern \"$p\" matches a line in error.log (req $rep)");
            } else {
                Test::More::fail("$name - pattern \"$p\" should match a line in error.log (req $rep)");
            }
        }
    }

    if (defined $no_error_log) {
        for my $pat (@$npats) {
            my $hit;
            for my $line (@$lines) {
                if (line_matches($line, $pat)) { $hit = $line; last }
            }
            my $p = fmt_str($pat);
            if (defined $hit) {
                Test::More::fail("$name - pattern \"$p\" should not match any line in error.log but matches line \"" . fmt_str($hit) . "\" (req $rep)");
            } else {
                Test::More::pass("$name - pattern \"$p\" does not match a line in error.log (req $rep)");
            }
        }
    }

    for my $level (qw(alert crit emerg)) {
        next if $level eq 'emerg' && $extra_lines;   # must_die: expected
        next if value_mentions($pats, "[$level") || value_mentions($npats, "[$level");
        for my $line (@$lines) {
            if ($line =~ /\[$level\]/) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
    }
}

sub check_access_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $want = sec($block, 'access_log');
    my $nwant = sec($block, 'no_access_log');
    return if !defined $want && !defined $nwant;
    Time::HiRes::sleep(0.03);
    my $data = read_file_data($AccLogFile) // '';
    my @lines = split /^/, $data;
    for my $pat (@{ to_pattern_list($want) }) {
        my $p = fmt_str($pat);
        if (grep { line_matches($_, $pat) } @lines) {
            Test::More::pass("$name - pattern \"$p\" matches a line in access.log (req $rep)");
        } else {
            Test::More::fail("$name - pattern \"$p\" should match a line in access.log (req $rep)");
        }
    }
    for my $pat (@{ to_pattern_list($nwant) }) {
        my $p = fmt_str($pat);
        my ($hit) = grep { line_matches($_, $pat) } @lines;
        if (defined $hit) {
            Test::More::fail("$name - pattern \"$p\" should not match any line in access.log but matches line \"" . fmt_str($hit) . "\" (req $rep)");
        } else {
            Test::More::pass("$name - pattern \"$p\" does not match a line in access.log (req $rep)");
        }
    }
}

sub check_shutdown_error_log {
    my ($block) = @_;
    my $name = $block->name;
    my $sel = sec($block, 'shutdown_error_log');
    my $nsel = sec($block, 'no_shutdown_error_log');
    return if !defined $sel && !defined $nsel;
    my $pats = to_pattern_list($sel);
    my $npats = to_pattern_list($nsel);
    if ($UseHup || $NoClean) {
        my $n = (defined $sel ? @$pats : 0) + (defined $nsel ? @$npats : 0);
        SKIP: { Test::More::skip("$name - shutdown_error_log - skipped in HUP/no-clean mode", $n) }
        return;
    }
    my $lines = error_log_data();
    for my $pat (@$pats) {
        my $p = fmt_str($pat);
        if (grep { line_matches($_, $pat) } @$lines) {
            Test::More::pass("$name - pattern \"$p\" matches a line in error.log");
        } else {
            Test::More::fail("$name - pattern \"$p\" should match a line in error.log");
        }
    }
    for my $pat (@$npats) {
        my $p = fmt_str($pat);
        my ($hit) = grep { line_matches($_, $pat) } @$lines;
        if (defined $hit) {
            Test::More::fail("$name - pattern \"$p\" should not match any line in error.log but matches line \"" . fmt_str($hit) . "\"");
        } else {
            Test::More::pass("$name - pattern \"$p\" does not match a line in error.log");
        }
    }
}

# ---------------------------------------------------------------- requests

sub parse_more_headers {
    my $in = shift;
    my $out = '';
    my $chunked = 0;
    return ('', 0) if !defined $in;
    for my $h (split /\n+/, $in) {
        next if $h =~ /^\s*#/;
        next if $h !~ /\S/;
        my ($k, $v) = split /:\s*/, $h, 2;
        $v //= '';
        $v =~ s/\r$//;
        $chunked = 1 if lc($k) eq 'transfer-encoding' && $v =~ /chunked/i;
        $out .= "$k: $v\r\n";
    }
    return ($out, $chunked);
}

sub build_request {
    my ($name, $text, $more, $conn) = @_;
    $text = '' if !defined $text;
    $text =~ s/^(?:\s*#[^\n]*\n|\s+)+//s;
    my ($first, $content) = split /\n/, $text, 2;
    $first //= '';
    $first =~ s/\r$//;
    if ($first !~ /^\s*(\S+)(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?\s*$/) {
        bail_out("$name - bad request line: \"$first\"");
    }
    my ($meth, $uri, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');
    my ($hdrs, $chunked) = parse_more_headers($more);
    $content //= '';
    my $len = '';
    if (!$chunked && $content ne '' && $hdrs !~ /(?:^|\n)Content-Length:/i) {
        $content =~ s/^\s+|\s+$//gs;
        $len = "Content-Length: " . length($content) . "\r\n";
    }
    my $head = "$meth $uri $ver\r\n";
    $head .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/i;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection:/i;
    $head .= $hdrs . $len . "\r\n";
    return { packets => [$head . $content], head => ($meth eq 'HEAD' ? 1 : 0), n => 1 };
}

# a request given as a list of packets (strings, or hashes with "value" and
# an optional "delay_before"): the request is built from their concatenation,
# then cut again at the same places of the original text, so that each piece
# is written separately (after its delay).
sub build_packet_request {
    my ($name, $packets, $more) = @_;
    my @vals = map { expand_env(ref $_ eq 'HASH' ? $_->{value} : $_, $name) } @$packets;
    my @delays = map { ref $_ eq 'HASH' ? $_->{delay_before} : undef } @$packets;
    my $orig = join '', @vals;
    my $r = build_request($name, $orig, $more, 'close');
    my $built = $r->{packets}[0];
    my $orig_head = index($orig, "\n") + 1;
    $orig_head = length $orig if $orig_head <= 0;
    (my $orig_body = substr($orig, $orig_head)) =~ s/^\s+//;
    my $skipped = length(substr($orig, $orig_head)) - length($orig_body);
    my $built_head = index($built, "\r\n\r\n") + 4;
    my (@out, @d);
    my ($pos, $cum) = (0, 0);
    for my $i (0 .. $#vals) {
        $cum += length $vals[$i];
        my $cut;
        if ($i == $#vals) {
            $cut = length $built;
        } elsif ($cum <= $orig_head) {
            $cut = $built_head;
        } else {
            $cut = $built_head + $cum - $orig_head - $skipped;
            $cut = $built_head if $cut < $built_head;
            $cut = length $built if $cut > length $built;
        }
        $cut = $pos if $cut < $pos;
        push @out, substr($built, $pos, $cut - $pos);
        push @d, $delays[$i];
        $pos = $cut;
    }
    $r->{packets} = \@out;
    $r->{delays} = \@d;
    return $r;
}

sub pick_more_headers {
    my ($name, $more, $i) = @_;
    return $more if !ref $more;
    my $h = $more->[$i];
    bail_out("$name - --- more_headers lacks data for request $i") if !defined $h;
    return $h;
}

sub get_requests {
    my ($block) = @_;
    my $name = $block->name;
    my @reqs;
    my $more = sec($block, 'more_headers');
    $more = expand_env($more, $name) if !ref $more;
    if (ref $more eq 'ARRAY') { $more = [map { expand_env($_, $name) } @$more] }

    if (defined(my $raw = sec($block, 'raw_request'))) {
        my @p = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        @p = map { expand_env($_, $name) } @p;
        my $all = join '', @p;
        push @reqs, { packets => \@p, head => ($all =~ /^\s*HEAD\s/ ? 1 : 0), n => 1 };
        return \@reqs;
    }

    if (defined(my $pl = sec($block, 'pipelined_requests'))) {
        bail_out("$name - --- pipelined_requests must be an array (use eval)") if ref $pl ne 'ARRAY';
        my $data = '';
        my @heads;
        for my $i (0 .. $#$pl) {
            my $r = build_request($name, expand_env($pl->[$i], $name),
                                  pick_more_headers($name, $more, $i),
                                  $i == $#$pl ? 'close' : 'keep-alive');
            $data .= $r->{packets}[0];
            push @heads, $r->{head};
        }
        push @reqs, { packets => [$data], heads => \@heads, n => scalar(@$pl), pipelined => 1 };
        return \@reqs;
    }

    my $request = sec($block, 'request');
    bail_out("$name - no --- request section") if !defined $request;
    if (!ref $request) {
        push @reqs, build_request($name, expand_env($request, $name),
                                  pick_more_headers($name, $more, 0), 'close');
    } elsif (ref $request eq 'ARRAY') {
        my $i = 0;
        for my $one (@$request) {
            my $m = pick_more_headers($name, $more, $i);
            if (ref $one eq 'ARRAY') {
                push @reqs, build_packet_request($name, $one, $m);
            } else {
                push @reqs, build_request($name, expand_env($one, $name), $m, 'close');
            }
            $i++;
        }
    } else {
        bail_out("$name - --- request must be a string or an array of requests");
    }
    return \@reqs;
}

# returns (raw response, timed_out)
sub send_request {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    return ('', 0) if !$NginxUp;
    my $sock;
    my $deadline = Time::HiRes::time() + $timeout;
    for my $try (1 .. 30) {
        $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr, PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        last if Time::HiRes::time() > $deadline;
        last if $NginxPid && !$NginxChild && !pid_alive($NginxPid);
        Time::HiRes::sleep(0.05);
    }
    if (!$sock) {
        my $err = "$!";
        my $why = '';
        if ($NginxPid && !pid_alive($NginxPid)) {
            $why = " (nginx process $NginxPid is gone - crashed?)";
            $NginxUp = 0;
        }
        Test::More::diag("$name - cannot connect to $ServerAddr:$ServerPortForClient: $err$why\n"
                         . "error.log tail:\n" . log_tail(15));
        return ('', 0);
    }
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my $delay = parse_time(sec($block, 'raw_request_middle_delay'));
    my @packets = @{ $req->{packets} };
    my $timed_out = 0;
    my $resp = '';
    my $write_ok = 1;
  PACKET:
    for my $pi (0 .. $#packets) {
        my $data = $packets[$pi];
        my $pd = $req->{delays} ? $req->{delays}[$pi] : undef;
        if (defined $pd) { Time::HiRes::sleep(parse_time($pd)) }
        elsif ($pi > 0 && $delay) { Time::HiRes::sleep($delay) }
        while (length $data) {
            my $left = $deadline - Time::HiRes::time();
            if ($left <= 0) { $timed_out = 1; last PACKET }
            next if !$sel->can_write($left);
            my $n = syswrite($sock, $data);
            if (!defined $n) {
                next if $! == Errno::EAGAIN() || $! == Errno::EINTR();
                $write_ok = 0;
                last PACKET;
            }
            substr($data, 0, $n, '');
        }
    }
    if (!$timed_out && defined(my $sd = sec($block, 'shutdown'))) {
        $sd = 1 if $sd !~ /\d/;
        shutdown($sock, $sd + 0);
    }
    while (!$timed_out) {
        my $left = $deadline - Time::HiRes::time();
        if ($left <= 0) { $timed_out = 1; last }
        next if !$sel->can_read($left);
        my $n = sysread($sock, my $chunk, 65536);
        if (!defined $n) {
            next if $! == Errno::EAGAIN() || $! == Errno::EINTR();
            last;
        }
        last if $n == 0;
        $resp .= $chunk;
        # stop early once every expected response is complete (the server
        # may keep the connection open, e.g. keep-alive)
        last if complete_responses($resp, $req) >= $req->{n};
    }
    close $sock;
    if ($timed_out && !has_sec($block, 'abort')) {
        Test::More::fail("ERROR: client socket timed out - $name");
        Test::More::diag("$name - no complete response within ${timeout}s (--- timeout); got "
                         . length($resp) . " bytes");
    }
    return ($resp, $timed_out);
}

# how many complete responses (with a known length) are in $buf
sub complete_responses {
    my ($buf, $req) = @_;
    my $count = 0;
    while ($count < $req->{n}) {
        my $head = $req->{heads} ? $req->{heads}[$count] : $req->{head};
        return $count if $buf !~ /\A(.*?\r?\n)\r?\n/s;
        my $hdr = $1;
        my $rest = substr($buf, length($&));
        if ($hdr =~ m{\AHTTP/\d\.\d\s+1\d\d\b} && $hdr !~ m{\AHTTP/\d\.\d\s+101\b}) {
            $buf = $rest;
            next;
        }
        my ($code) = $hdr =~ m{\AHTTP/\d\.\d\s+(\d+)};
        return $count if !defined $code;
        if ($head || $code =~ /^(?:204|304)$/) {
            $buf = $rest;
        } elsif ($hdr =~ /^Transfer-Encoding:\s*chunked/mi) {
            my $pos = 0;
            while (1) {
                my $tail = substr($rest, $pos);
                return $count if $tail !~ /\A([0-9a-fA-F]+)[^\r\n]*\r?\n/;
                my $len = hex($1);
                my $hl = length($&);
                if ($len == 0) {
                    return $count if $tail !~ /\A[^\r\n]*\r?\n((?:[^\r\n]+\r?\n)*)\r?\n/;
                    $pos += length($&);
                    last;
                }
                return $count if length($tail) < $hl + $len + 2;
                $pos += $hl + $len;
                $pos += substr($rest, $pos, 2) eq "\r\n" ? 2 : 1;
            }
            $buf = substr($rest, $pos);
        } elsif ($hdr =~ /^Content-Length:\s*(\d+)/mi) {
            return $count if length($rest) < $1;
            $buf = substr($rest, $1);
        } else {
            return $count;   # length known only at EOF
        }
        $count++;
    }
    return $count;
}

# parse one response from the front of $buf: returns (res, raw headers, rest)
sub parse_response {
    my ($name, $buf, $head) = @_;
    return (undef, '', '') if !defined $buf || $buf eq '';
    my ($raw_headers, $rest);
    if ($buf =~ /\A(.*?\r?\n)\r?\n(.*)\z/s) {
        ($raw_headers, $rest) = ($1, $2);
    } else {
        ($raw_headers, $rest) = ($buf, '');
    }
    # An interim response ("100 Continue") is not skipped: Test::Nginx reads
    # the reply with HTTP::Response->parse, so its code is the status and
    # everything after it (the final response, raw) the body, as upstream
    # suites' blocks expect (--- error_code: 100).
    my %res = (headers => [], body => '', code => '');
    my @lines = split /\r?\n/, $raw_headers;
    my $status = shift @lines // '';
    if ($status =~ m{^HTTP/\d\.\d\s+(\d\d\d)\s*(.*)$}) {
        $res{code} = $1;
        $res{message} = $2;
    }
    for my $l (@lines) {
        if ($l =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            push @{ $res{headers} }, [$1, $2];
        } elsif ($l =~ /^\s+(.*?)\s*$/ && @{ $res{headers} }) {
            $res{headers}[-1][1] .= " $1";
        }
    }
    my $res = \%res;
    my $te = resp_header($res, 'Transfer-Encoding');
    my $cl = resp_header($res, 'Content-Length');
    if ($head || $res{code} =~ /^(?:204|304)$/) {
        return ($res, $raw_headers, $rest);
    }
    if (defined $te && $te =~ /chunked/i) {
        my $body = '';
        while (1) {
            if ($rest !~ s/\A([0-9a-fA-F]+)[^\r\n]*\r?\n//) {
                Test::More::diag("$name - bad or truncated chunked response body")
                    if length $rest;
                last;
            }
            my $len = hex($1);
            if ($len == 0) {
                # skip trailers
                $rest =~ s/\A(?:[^\r\n]+\r?\n)*\r?\n//;
                last;
            }
            if (length($rest) < $len) {
                Test::More::diag("$name - truncated chunk (want $len bytes, have " . length($rest) . ")");
                $body .= $rest;
                $rest = '';
                last;
            }
            $body .= substr($rest, 0, $len, '');
            $rest =~ s/\A\r?\n//;
        }
        $res{body} = $body;
        return ($res, $raw_headers, $rest);
    }
    if (defined $cl && $cl =~ /^\d+$/) {
        $res{body} = substr($rest, 0, $cl);
        $rest = length($rest) > $cl ? substr($rest, $cl) : '';
        return ($res, $raw_headers, $rest);
    }
    $res{body} = $rest;
    return ($res, $raw_headers, '');
}

sub resp_header {
    my ($res, $key) = @_;
    return undef if !$res;
    my @v = map { $_->[1] } grep { lc($_->[0]) eq lc($key) } @{ $res->{headers} };
    return undef if !@v;
    return join ', ', @v;
}

sub indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value eq 'ARRAY') {
        return $value->[$need_array ? $idx : 0];
    }
    return $value;
}

sub check_response {
    my ($block, $res, $raw_headers, $idx, $rep, $need_array) = @_;
    my $name = $block->name;

    # status code
    if (defined(my $ecl = sec($block, 'error_code_like'))) {
        my $v = indexed($name, $ecl, $idx, $need_array);
        $v =~ s/^\s+|\s+$//g if !ref $v;
        Test::More::like($res ? $res->{code} : '', qr/$v/sm, "$name - status code ok");
    } elsif (defined(my $ec = sec($block, 'error_code'))) {
        my $v = indexed($name, $ec, $idx, $need_array);
        $v =~ s/^\s+|\s+$//g if defined $v;
        Test::More::is($res ? $res->{code} : '', $v, "$name - status code ok");
    } else {
        Test::More::is($res ? $res->{code} : '', 200, "$name - status code ok");
    }

    # raw headers
    if (defined(my $p = sec($block, 'raw_response_headers_like'))) {
        my $v = indexed($name, $p, $idx, $need_array);
        Test::More::like($raw_headers, ref $v ? $v : qr/$v/s, "$name - raw resp headers like");
    }
    if (defined(my $p = sec($block, 'raw_response_headers_unlike'))) {
        my $v = indexed($name, $p, $idx, $need_array);
        Test::More::unlike($raw_headers, ref $v ? $v : qr/$v/s, "$name - raw resp headers unlike");
    }

    # headers
    if (defined(my $rh = sec($block, 'response_headers'))) {
        my $v = expand_env(indexed($name, $rh, $idx, $need_array), $name);
        for my $line (split /\n/, $v // '') {
            next if $line !~ /\S/;
            if ($line =~ /^\s*!\s*(\S+?)\s*:?\s*$/) {
                my $k = $1;
                Test::More::unlike($raw_headers, qr/^\s*\Q$k\E\s*:/mi,
                                   "$name - header $k not present in the raw headers");
                next;
            }
            my ($k, $val) = split /\s*:\s*/, $line, 2;
            $k =~ s/^\s+//;
            $val //= '';
            $val =~ s/\s+$//;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            Test::More::is(resp_header($res, $k) // '', $val, "$name - header $k ok");
        }
    } elsif (defined(my $rhl = sec($block, 'response_headers_like'))) {
        my $v = indexed($name, $rhl, $idx, $need_array);
        for my $line (split /\n/, $v // '') {
            next if $line !~ /\S/;
            my ($k, $val) = split /\s*:\s*/, $line, 2;
            $k =~ s/^\s+//;
            $val //= '';
            $val =~ s/\s+$//;
            Test::More::like(resp_header($res, $k) // '', qr/^$val$/, "$name - header $k like ok");
        }
    }

    # body: with no response at all (the connection closed), an empty one,
    # as Test::Nginx parses an empty reply
    my $content = $res ? $res->{body} : '';
    if (defined(my $filters = sec($block, 'response_body_filters')) && defined $content) {
        my @f = ref $filters eq 'ARRAY' ? @$filters : (split /\s+/, $filters);
        @f = @{ $f[$idx] } if ref $f[0] eq 'ARRAY';
        for my $f (@f) {
            next if !defined $f || $f eq '';
            if (ref $f eq 'CODE') { $content = $f->($content) }
            elsif ($f eq 'uc') { $content = uc $content }
            elsif ($f eq 'lc') { $content = lc $content }
            elsif ($f eq 'md5') { require Digest::MD5; $content = Digest::MD5::md5_hex($content) . "\n" }
            else { bail_out("$name - unknown response_body_filters filter $f") }
        }
    }
    if (has_sec($block, 'response_body') || has_sec($block, 'response_body_eval')) {
        if (has_sec($block, 'response_body_json_sort') && defined $content) {
            require JSON::PP;
            my $js = JSON::PP->new->canonical(1)->allow_nonref(1);
            my $obj = eval { $js->loose(1)->decode($content) };
            $content = $js->encode($obj) . "\n" if !$@;
        }
        my $expected;
        if (has_sec($block, 'response_body_eval')) {
            $expected = eval indexed($name, sec($block, 'response_body_eval'), $idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = indexed($name, sec($block, 'response_body'), $idx, $need_array);
        }
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected = expand_env($expected, $name);
        }
        my $desc = "$name - response_body - response is expected (repeated req $rep, req $idx)";
        if (ref $expected) {
            Test::More::like($content, $expected, "$name - response_body - like (repeated req $rep, req $idx)");
        } else {
            $expected = '' if !defined $expected;
            is_string($content, $expected, $desc);
        }
    } elsif (has_sec($block, 'response_body_like') || has_sec($block, 'response_body_unlike')) {
        my $type = has_sec($block, 'response_body_like') ? 'like' : 'unlike';
        my $pat = indexed($name, sec($block, "response_body_$type"), $idx, $need_array);
        $pat = '' if !defined $pat;
        if (!ref $pat) {
            $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $pat =~ s/\$ServerPort\b/$ServerPort/g;
        }
        my $summary = defined $content ? $content : '';
        $summary =~ s/^\s+|\s+$//g;
        $summary = fmt_str($summary);
        my $desc = "$name - response_body_$type - response is expected ($summary)";
        if ($type eq 'like') {
            Test::More::like($content, ref $pat ? $pat : qr/$pat/s, $desc);
        } else {
            Test::More::unlike($content, ref $pat ? $pat : qr/$pat/s, $desc);
        }
    }
    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $idx, $rep, undef);
    }
}

# ---------------------------------------------------------------- fake servers

sub listen_target {
    my ($block, $sec, $type) = @_;
    my $t = expand_env(sec($block, $sec), $block->name);
    $t =~ s/^\s+|\s+$//g;
    my $sock;
    if ($t =~ /^\d+$/) {
        $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $t,
                                      Proto => $type, ReuseAddr => 1,
                                      ($type eq 'tcp' ? (Listen => 32) : ()));
    } elsif ($t =~ m{^(.+):(\d+)$}) {
        $sock = IO::Socket::INET->new(LocalAddr => $1, LocalPort => $2,
                                      Proto => $type, ReuseAddr => 1,
                                      ($type eq 'tcp' ? (Listen => 32) : ()));
    } else {
        (my $path = $t) =~ s{^unix:}{};
        unlink $path;
        $sock = IO::Socket::UNIX->new(Local => $path,
                                      Type => ($type eq 'tcp' ? SOCK_STREAM : SOCK_DGRAM),
                                      ($type eq 'tcp' ? (Listen => 32) : ()));
    }
    bail_out($block->name . " - cannot listen on $sec $t: $!") if !$sock;
    return $sock;
}

sub start_tcp_server {
    my ($block, $qfile) = @_;
    my $name = $block->name;
    my $reply = sec($block, 'tcp_reply');
    my $req_len = sec($block, 'tcp_query_len');
    $req_len =~ s/\s+//g if defined $req_len;
    my $q = sec($block, 'tcp_query');
    if (!defined $req_len && defined $q && !ref $q) {
        $req_len = length $q;
    }
    my $reply_delay = parse_time(sec($block, 'tcp_reply_delay'));
    my $no_close = has_sec($block, 'tcp_no_close');
    # Test::Nginx's tcp_shutdown: shut that side of each accepted
    # connection down at once (1: the server's writing side, so the client
    # reads EOF), then read the query as usual.
    my $shut = sec($block, 'tcp_shutdown');
    $shut =~ s/\s+//g if defined $shut;
    my $srv = listen_target($block, 'tcp_listen', 'tcp');
    my $pid = fork();
    bail_out("fork failed: $!") if !defined $pid;
    if ($pid) {
        close $srv;
        push @FakeServers, $pid;
        return;
    }
    $SIG{TERM} = sub { POSIX::_exit(0) };
    while (1) {
        my $c = $srv->accept or next;
        shutdown($c, $shut + 0) if defined $shut && $shut ne '';
        my $buf = '';
        my $sel = IO::Select->new($c);
        my $deadline = time + 10;
        while (time < $deadline) {
            if (defined $req_len && $req_len ne '' && length($buf) >= $req_len) { last }
            my $idle = (defined $req_len && $req_len ne '') ? 5 : ($buf eq '' ? 5 : 0.2);
            last if !$sel->can_read($idle);
            my $n = sysread($c, my $chunk, 65536);
            last if !$n;
            $buf .= $chunk;
        }
        if ($qfile) {
            write_file_data("$qfile.tmp", $buf);
            rename "$qfile.tmp", $qfile;
        }
        Time::HiRes::sleep($reply_delay) if $reply_delay;
        if (defined $reply) {
            my @r = ref $reply eq 'ARRAY' ? @$reply : ($reply);
            for my $r (@r) {
                $r = $r->($buf) if ref $r eq 'CODE';
                next if !defined $r;
                syswrite($c, $r);
            }
        }
        if ($no_close) {
            sleep 3600;
        }
        close $c;
    }
    POSIX::_exit(0);
}

sub start_udp_server {
    my ($block, $qfile) = @_;
    my $reply = sec($block, 'udp_reply');
    my $reply_delay = parse_time(sec($block, 'udp_reply_delay'));
    my $srv = listen_target($block, 'udp_listen', 'udp');
    my $pid = fork();
    bail_out("fork failed: $!") if !defined $pid;
    if ($pid) {
        close $srv;
        push @FakeServers, $pid;
        return;
    }
    $SIG{TERM} = sub { POSIX::_exit(0) };
    while (1) {
        my $peer = $srv->recv(my $buf, 65536);
        next if !defined $peer;
        if ($qfile) {
            write_file_data("$qfile.tmp", $buf);
            rename "$qfile.tmp", $qfile;
        }
        Time::HiRes::sleep($reply_delay) if $reply_delay;
        if (defined $reply) {
            my @r = ref $reply eq 'ARRAY' ? @$reply : ($reply);
            for my $r (@r) {
                # A reply sub also gets the sender's packed address.
                $r = $r->($buf, $peer) if ref $r eq 'CODE';
                next if !defined $r;
                send($srv, $r, 0, $peer);
            }
        }
    }
    POSIX::_exit(0);
}

sub stop_fake_servers {
    for my $pid (@FakeServers) {
        kill 'TERM', $pid;
        my $deadline = Time::HiRes::time() + 2;
        while (Time::HiRes::time() < $deadline) {
            last if waitpid($pid, POSIX::WNOHANG()) == $pid;
            Time::HiRes::sleep(0.01);
        }
        if (pid_alive($pid)) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
        }
    }
    @FakeServers = ();
}

sub check_fake_query {
    my ($block, $kind, $qfile) = @_;
    my $name = $block->name;
    my $want_q = sec($block, "${kind}_query");
    my $want_len = $kind eq 'tcp' ? sec($block, 'tcp_query_len') : undef;
    return if !defined $want_q && !defined $want_len;
    my $deadline = Time::HiRes::time() + 1;
    while (!-f $qfile && Time::HiRes::time() < $deadline) {
        Time::HiRes::sleep(0.02);
    }
    my $got = read_file_data($qfile);
    if (defined $want_q) {
        if (ref $want_q eq 'Regexp') {
            Test::More::like($got // '', $want_q, "$name - ${kind}_query ok");
        } else {
            is_string($got // '', $want_q, "$name - ${kind}_query ok");
        }
    }
    if (defined $want_len) {
        $want_len =~ s/\s+//g;
        Test::More::is(length($got // ''), $want_len, "$name - TCP query length ok");
    }
}

# ---------------------------------------------------------------- blocks

sub skip_count {
    my ($block) = @_;
    my $name = $block->name;
    if (defined(my $s = sec($block, 'skip_nginx'))) {
        if ($s =~ /^\s*(\d+)\s*:\s*([<>]=?|==|!=)\s*(\d+(?:\.\d+)*)\s*(?::\s*(.*?))?\s*$/s) {
            my ($n, $op, $v, $why) = ($1, $2, canon_version($3), $4);
            my $cur = nginx_version();
            my $cond = eval "$cur $op $v";
            return ($n, $why || "nginx version $op $3") if $cond;
        } else {
            bail_out("$name - bad --- skip_nginx: $s");
        }
    }
    if (defined(my $s = sec($block, 'skip_openssl'))) {
        if ($s =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?\s*(?::\s*(.*?))?\s*$/s) {
            my ($n, $op, $why) = ($1, $2, $7);
            my $want = sprintf('%d.%03d%03d%03d', $3, $4, $5, $6 ? ord($6) - 96 : 0);
            my $cur = openssl_version();
            if (!defined $cur) {
                return ($n, $why || 'not built with OpenSSL');
            }
            return ($n, $why || "OpenSSL version $op $3.$4.$5" . ($6 // '')) if eval "$cur $op $want";
        } else {
            bail_out("$name - bad --- skip_openssl: $s");
        }
    }
    if (defined(my $s = sec($block, 'skip_eval'))) {
        if ($s =~ /^\s*(\d+)\s*:\s*(.*?)\s*$/s) {
            my ($n, $code) = ($1, $2);
            my $cond = eval $code;
            bail_out("$name - --- skip_eval failed: $@") if $@;
            return ($n, "skip_eval") if $cond;
        } else {
            bail_out("$name - bad --- skip_eval: $s");
        }
    }
    return;
}

sub run_test {
    my ($block) = @_;
    my $name = $block->name;

    if (my ($n, $why) = skip_count($block)) {
        # like Test::Nginx: the count is skipped once per repeat
        for (1 .. $RepeatEach) {
            SKIP: { Test::More::skip("$name - $why", $n) }
        }
        return;
    }

    my $tb = Test::More->builder;
    my $failed_before = grep { !$_ } $tb->summary;

    my $must_die = sec($block, 'must_die');
    # `--- no_hup`: the block needs state a reload drops (per-worker Lua
    # state, connection pools, the worker pid): it gets a fresh nginx
    $CurBlockName = $name;
    my $no_hup = has_sec($block, 'no_hup');
    $BlockNoMock = has_sec($block, 'no_mockeagain');
    $BlockMockMax = sec($block, 'mockeagain_max');
    $BlockMockMax =~ s/\s+//g if defined $BlockMockMax;
    $BlockRlimitAs = sec($block, 'rlimit_as');
    $BlockRlimitAs =~ s/\s+//g if defined $BlockRlimitAs;
    $no_hup ||= defined $BlockRlimitAs;
    my $hup = $UseHup && !defined $must_die && $NginxUp && !$NoNginxManager && !$no_hup;
    my $extra_log_lines = [];

    if (!$NoNginxManager) {
        if (!$hup) {
            stop_nginx() if $NginxUp || get_pid_from_pidfile();
            setup_server_root(1);
        } else {
            setup_server_root(0);
        }
        $ConfigVersion++;
        write_user_files($block);
        write_config($block);
    }

    if (defined $must_die) {
        $must_die =~ s/^\s+|\s+$//g;
        for my $rep (0 .. $RepeatEach - 1) {
            unlink $StderrFile;
            $ErrLogPos = 0;
            truncate $ErrLogFile, 0 if -f $ErrLogFile;
            my ($st) = run_cmd_wait(15, nginx_cmd());
            my $code = defined $st ? $st >> 8 : undef;
            if ($must_die =~ /^\d+$/) {
                Test::More::is($code, $must_die, "$name - die with the expected exit code");
            } else {
                Test::More::ok(defined $st && $st != 0, "$name - die as expected");
            }
            my $err = read_file_data($StderrFile) // '';
            check_error_log($block, $rep, [split /^/, $err]);
            if (defined $st && $st == 0) {
                Test::More::diag("$name - nginx must die but it did not");
                $NginxPid = get_pid_from_pidfile();
                $NginxUp = 1;
                stop_nginx();
            }
        }
        return;
    }

    my $start_err;
    if (!$NoNginxManager) {
        my ($ok, $err);
        if ($hup) {
            # the block's log starts where the master begins to load its
            # configuration, so that what its init_by_lua and
            # init_worker_by_lua log is seen, but not the previous
            # configuration's "signal received" notice
            my $pre = -s $ErrLogFile || 0;
            ($ok, $err) = reload_nginx();
            $ErrLogPos = log_offset_after($pre, qr/\d: reconfiguring$/) // (-s $ErrLogFile || 0);
        } else {
            $ErrLogPos = 0;
            ($ok, $err) = start_nginx($name);
        }
        if (!$ok) {
            $NginxUp = 0;
            $start_err = $err;
            my $stderr = read_file_data($StderrFile) // '';
            Test::More::diag("$name - nginx failed to start: $err\n"
                . ($stderr ne '' ? "stderr:\n$stderr" : '')
                . "error.log tail:\n" . log_tail(30));
        }
    } else {
        $NginxUp = 1;
        $ErrLogPos = -s $ErrLogFile || 0;
    }

    if (defined(my $init = sec($block, 'init'))) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    my $timeout = parse_time(sec($block, 'timeout'));
    $timeout = $Timeout if !defined $timeout;
    my $wait = parse_time(sec($block, 'wait'));
    my $ignore_response = has_sec($block, 'ignore_response');

    for my $rep (0 .. $RepeatEach - 1) {
        my ($tcp_q, $udp_q);
        if (has_sec($block, 'tcp_listen')) {
            $tcp_q = "$LogDir/tcp_query.$rep";
            unlink $tcp_q;
            start_tcp_server($block, $tcp_q);
        }
        if (has_sec($block, 'udp_listen')) {
            $udp_q = "$LogDir/udp_query.$rep";
            unlink $udp_q;
            start_udp_server($block, $udp_q);
        }

        my $reqs = get_requests($block);
        my $nreq = 0;
        $nreq += $_->{n} for @$reqs;
        my $need_array = $nreq > 1;
        my $idx = 0;
        for my $ri (0 .. $#$reqs) {
            my $req = $reqs->[$ri];
            if ($HupEachRequest && !$no_hup && !$NoNginxManager && $NginxUp
                && ($ri > 0 || $rep > 0))
            {
                hup_between_requests($block);
            }
            my ($raw) = send_request($block, $req, $timeout);
            my $left = $raw;
            for my $k (1 .. $req->{n}) {
                my $head = $req->{heads} ? $req->{heads}[$k - 1] : $req->{head};
                my ($res, $raw_headers, $rest);
                if (has_sec($block, 'http09')) {
                    ($res, $raw_headers, $rest) = ({ code => 200, headers => [], body => $left }, '', '');
                } else {
                    ($res, $raw_headers, $rest) = parse_response($name, $left, $head);
                }
                $left = $rest;
                if (!$ignore_response) {
                    check_response($block, $res, $raw_headers // '', $idx, $rep, $need_array);
                }
                my $last = ($ri == $#$reqs && $k == $req->{n});
                if (!$last) {
                    Time::HiRes::sleep($wait) if $wait;
                    check_error_log($block, $rep);
                    check_access_log($block, $rep) if !$ignore_response;
                }
                $idx++;
            }
        }
        Time::HiRes::sleep($wait) if $wait;
        if ($block->{stap}) {
            SKIP: { Test::More::skip("$name - stap_out - tests skipped due to systemtap not being supported", 1) }
        }
        check_error_log($block, $rep);
        check_access_log($block, $rep) if !$ignore_response;

        if (defined $tcp_q) {
            check_fake_query($block, 'tcp', $tcp_q);
        }
        if (defined $udp_q) {
            check_fake_query($block, 'udp', $udp_q);
        }
        stop_fake_servers();
    }

    my $tail = log_tail(30);
    if (!$NoNginxManager && !$UseHup) {
        stop_nginx();
    }
    check_shutdown_error_log($block);

    my $failed_after = grep { !$_ } $tb->summary;
    if ($failed_after > $failed_before && !$start_err) {
        Test::More::diag("$name - last lines of $ErrLogFile (before nginx was stopped):\n$tail");
    }
}

sub run_tests {
    my @blocks = Test::Base::blocks();
    if (!Test::More->builder->has_plan) {
        # no plan given: count as we go (Test::Base also needs to see a plan)
        plan('no_plan');
    }
    for my $block (@blocks) {
        for my $pp (@BlockPreprocessors) {
            $pp->($block);
        }
        run_test($block);
    }
    cleanup_all();
}

sub cleanup_all {
    return if $$ != $MainPid;
    stop_fake_servers();
    for my $h (@CleanupHandlers) {
        eval { $h->() };
    }
    @CleanupHandlers = ();
    if (!$NoNginxManager) {
        stop_nginx() if $NginxUp || ($Started && get_pid_from_pidfile());
    }
}

END {
    if ($$ == $MainPid) {
        my $status = $?;
        cleanup_all();
        my $tb = Test::More->builder;
        my $all_ok = $tb->is_passing && $status == 0;
        if (!$NoClean && !$ServRootGiven && !$NoNginxManager && -d $ServRoot) {
            if ($all_ok) {
                File::Path::remove_tree($ServRoot);
            } else {
                $tb->diag("servroot kept for inspection: $ServRoot");
            }
        }
        $? = $status;
    }
}

# files read $Test::Nginx::Util::ServerPort and friends without loading it
require Test::Nginx::Util;

1;
