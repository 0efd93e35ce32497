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

1;
