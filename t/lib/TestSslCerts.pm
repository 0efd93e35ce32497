# Certificates for the TLS tests, made with the openssl command when a
# test file starts (self-signed EC P-256, one per name, valid ten years),
# in a temporary directory removed at exit. For each NAME: NAME.crt,
# NAME.key (PEM) and NAME.crt.der, NAME.key.der; all.crt bundles the
# certificates (a trust store that accepts any of them).
package TestSslCerts;
use strict;
use warnings;
use File::Temp qw(tempdir);

sub make_certs {
    my @names = @_;
    my $dir = tempdir("ngx-lua-ssl-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    open my $all, '>', "$dir/all.crt" or die "$dir/all.crt: $!";
    for my $n (@names) {
        my $rc = system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
            . " -nodes -days 3650 -subj /CN=$n -addext subjectAltName=DNS:$n"
            . " -keyout $dir/$n.key -out $dir/$n.crt >/dev/null 2>&1");
        die "openssl req failed for $n" if $rc != 0;
        system("openssl x509 -in $dir/$n.crt -outform DER -out $dir/$n.crt.der") == 0
            or die "openssl x509 failed";
        system("openssl pkey -in $dir/$n.key -outform DER -out $dir/$n.key.der") == 0
            or die "openssl pkey failed";
        open my $c, '<', "$dir/$n.crt" or die;
        local $/; my $pem = <$c>; print {$all} $pem;
    }
    close $all;
    return $dir;
}

# An OCSP setup for t/34-ssl/009-ocsp.t, in a new temporary directory:
# root.crt signs issuer.crt and other-issuer.crt (CAs); issuer.crt signs
# the leaves ocsp.test (serial 0x1001) and revoked.test (0x1002), whose
# AIA names the responder http://127.0.0.1:PORT/ocsp, and plain.test
# (0x1003) without AIA. For each leaf: LEAF.crt, LEAF.key,
# LEAF.chain.crt (leaf then issuer). index.txt lists ocsp.test as valid
# and revoked.test as revoked; ocsp.test.req.der is the request the
# openssl command makes for ocsp.test (SHA-1 id, no nonce) and
# ocsp.test.resp-nocerts.der a good response without the signer's
# certificate. start_ocsp_responder() runs `openssl ocsp` as the
# responder for issuer.crt (stopped when the test ends).
sub make_ocsp_pki {
    my ($port) = @_;
    my $dir = tempdir("ngx-lua-ocsp-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    my $run = sub {
        my $cmd = shift;
        system("$cmd >/dev/null 2>&1") == 0 or die "failed: $cmd";
    };
    my $ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    open my $ca_ext, '>', "$dir/ca.ext" or die;
    print {$ca_ext} "basicConstraints=critical,CA:TRUE\n"
        . "keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n";
    close $ca_ext;
    $run->("openssl req -x509 $ec -days 3650 -subj /CN=Test-Root"
        . " -addext basicConstraints=critical,CA:TRUE"
        . " -addext keyUsage=critical,keyCertSign,cRLSign"
        . " -keyout $dir/root.key -out $dir/root.crt");
    my $serial = 0x100;
    for my $ca (qw(issuer other-issuer)) {
        $run->("openssl req -new $ec -subj /CN=Test-$ca -keyout $dir/$ca.key -out $dir/$ca.csr");
        $run->("openssl x509 -req -in $dir/$ca.csr -CA $dir/root.crt -CAkey $dir/root.key"
            . " -set_serial " . $serial++ . " -days 3650 -extfile $dir/ca.ext -out $dir/$ca.crt");
    }
    my %serials = ('ocsp.test' => 0x1001, 'revoked.test' => 0x1002, 'plain.test' => 0x1003);
    open my $index, '>', "$dir/index.txt" or die;
    for my $leaf (sort { $serials{$a} <=> $serials{$b} } keys %serials) {
        open my $ext, '>', "$dir/$leaf.ext" or die;
        print {$ext} "subjectAltName=DNS:$leaf\n";
        print {$ext} "authorityInfoAccess=OCSP;URI:http://127.0.0.1:$port/ocsp\n"
            unless $leaf eq 'plain.test';
        close $ext;
        $run->("openssl req -new $ec -subj /CN=$leaf -keyout $dir/$leaf.key -out $dir/$leaf.csr");
        $run->("openssl x509 -req -in $dir/$leaf.csr -CA $dir/issuer.crt -CAkey $dir/issuer.key"
            . " -set_serial $serials{$leaf} -days 3650 -extfile $dir/$leaf.ext -out $dir/$leaf.crt");
        my $pem = '';
        for my $f ("$dir/$leaf.crt", "$dir/issuer.crt") {
            open my $c, '<', $f or die; local $/; $pem .= <$c>;
        }
        open my $chain, '>', "$dir/$leaf.chain.crt" or die;
        print {$chain} $pem;
        close $chain;
        my $hex = sprintf("%04X", $serials{$leaf});
        my $end = '351231000000Z';
        if ($leaf eq 'revoked.test') {
            print {$index} "R\t$end\t240101000000Z\t$hex\tunknown\t/CN=$leaf\n";
        } else {
            print {$index} "V\t$end\t\t$hex\tunknown\t/CN=$leaf\n";
        }
    }
    close $index;
    $run->("openssl ocsp -issuer $dir/issuer.crt -cert $dir/ocsp.test.crt -no_nonce"
        . " -reqout $dir/ocsp.test.req.der");
    $run->("openssl ocsp -index $dir/index.txt -rsigner $dir/issuer.crt -rkey $dir/issuer.key"
        . " -CA $dir/issuer.crt -reqin $dir/ocsp.test.req.der -ndays 1 -resp_no_certs"
        . " -respout $dir/ocsp.test.resp-nocerts.der");
    return $dir;
}

my @responders;
my $owner = $$;

sub start_ocsp_responder {
    my ($dir, $port) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('openssl', 'ocsp', '-index', "$dir/index.txt", '-port', $port,
             '-rsigner', "$dir/issuer.crt", '-rkey', "$dir/issuer.key",
             '-CA', "$dir/issuer.crt", '-ndays', '1');
        exit 127;
    }
    push @responders, $pid;
    # Readiness from the kernel's socket table: a probe connection that
    # sends nothing makes the responder fail (or, with -ignore_err, spin).
    my $hex = sprintf("%04X", $port);
    for (1 .. 200) {
        for my $table ('/proc/net/tcp', '/proc/net/tcp6') {
            open my $t, '<', $table or next;
            while (<$t>) {
                my @f = split;
                return $pid if $f[1] =~ /:$hex$/ && $f[3] eq '0A';
            }
        }
        select(undef, undef, undef, 0.05);
    }
    die "the OCSP responder did not start on port $port";
}

# A TCP port nothing listens on now.
sub free_port {
    require IO::Socket::INET;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

END {
    # waitpid sets $?, which would become the test's exit status.
    local $?;
    if ($$ == $owner) {
        kill 'TERM', $_ for @responders;
        waitpid($_, 0) for @responders;
    }
}

1;
