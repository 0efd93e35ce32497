package Test::Nginx::Util;

# ngx-lua-rs harness: a small stand-in for the variables and helpers that
# test files sometimes take from Test::Nginx::Util.  They are aliases of the
# ones in Test::Nginx::Socket (the engine).

use strict;
use warnings;

require Test::Nginx::Socket;

use Exporter 'import';

my @vars = qw(
    ServerPort ServerAddr ServerPortForClient ServerName NginxVersion
    PcreVersion ServRoot HtmlDir LogDir ConfDir ConfFile ErrLogFile
    AccLogFile PidFile NginxBinary RepeatEach LogLevel Timeout
    UseHup UseValgrind NoClean CheckLeak Workers WorkerConnections
    MasterProcessEnabled NoRootLocation NoLongString
);
my @subs = qw(
    is_tcp_port_used is_udp_port_used gen_rand_port html_dir server_root
    server_port server_port_for_client server_name server_addr timeout
    repeat_each log_level workers worker_connections master_on master_off
    master_process_enabled no_long_string no_root_location env_to_nginx
    add_block_preprocessor add_cleanup_handler bail_out error_log_data
    get_pid_from_pidfile is_str config_preamble check_accum_error_log
    use_hup no_nginx_manager no_shuffle parse_time
);

{
    no strict 'refs';
    for my $v (@vars) {
        *{"Test::Nginx::Util::$v"} = \${"Test::Nginx::Socket::$v"};
    }
    for my $s (@subs) {
        *{"Test::Nginx::Util::$s"} = \&{"Test::Nginx::Socket::$s"};
    }
}

our @EXPORT_OK = (@subs, map { "\$$_" } @vars);
our @EXPORT = ();

1;
