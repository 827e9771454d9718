# Where a webhook may go: not to this machine, its private networks,
# link-local or reserved addresses, whether the URL names the address or
# a host that resolves to it; refused when it is saved (422), and again
# at each delivery on the address connected to, so that a URL that got in
# earlier (or a name that now resolves elsewhere) reaches nothing. No
# redirect is followed; a long answer is cut. conf/test.conf allows only
# 127.0.0.3 (cvc_webhook_allow), where this test's receiver listens.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.32');
my $dir = "$ENV{CVC_TEST_DIR}/tmp";

my $conv = new_convention();
my $pos = new_pos($conv);
my $admin = merchant_login($conv->{id}, $conv->{password});
my $hook = "/api/v1/points-of-sale/$pos->{id}/webhook";
sub put_hook { api_as($admin->{token}, PUT => $hook, { url => $_[0] }) }

# ---- at save ------------------------------------------------------------------

for my $bad (['http://127.0.0.1:9/hook', qr/127\.0\.0\.1 is a loopback address/,
              'loopback'],
             ['http://localhost:9/hook', qr/localhost resolves to \S+, a loopback address/,
              'a name that resolves to loopback'],
             ['http://LOCALHOST./hook', qr/loopback/, 'the same, in capitals, rooted'],
             ['http://[::1]:9/', qr/::1 is a loopback address/, 'IPv6 loopback'],
             ['http://[::ffff:127.0.0.1]/', qr/loopback/, 'IPv4-mapped loopback'],
             ['http://2130706433/', qr/loopback/, 'loopback as one decimal number'],
             ['http://0x7f000001/', qr/loopback/, 'loopback in hexadecimal'],
             ['http://169.254.169.254/latest/meta-data/', qr/link-local/,
              "a cloud's metadata"],
             ['http://[fe80::1]/', qr/link-local/, 'IPv6 link-local'],
             ['http://10.1.2.3/', qr/private/, '10/8'],
             ['https://172.16.0.1/', qr/private/, '172.16/12'],
             ['http://192.168.1.1:8080/x', qr/private/, '192.168/16'],
             ['http://100.64.0.1/', qr/private/, 'shared address space'],
             ['http://[fd00::1]/', qr/private/, 'IPv6 unique local'],
             ['http://0.0.0.0:9/', qr/reserved/, '0.0.0.0'],
             ['http://224.0.0.1/', qr/reserved/, 'multicast'],
             ['http://user:pw@127.0.0.1/', qr/loopback/, 'loopback behind credentials'])
{
    my ($url, $why, $name) = @$bad;
    my $r = put_hook($url);
    error_ok($r, 422, 'validation_failed', "$name ($url)");
    like($r->{json}{error}{fields}{url} // '', $why, "... says why")
        or diag $r->{raw};
}
for my $bad ('ftp://example.com/', 'file:///etc/passwd', 'gopher://x/',
             'http:///nohost', 'javascript:alert(1)') {
    error_ok(put_hook($bad), 422, 'validation_failed', "not http(s): $bad");
}
is(api_as($admin->{token}, GET => $hook)->{status}, 404,
   'none of them was saved');

my $r = put_hook('https://hooks.example.com/cvc');
is($r->{status}, 200, 'a public name (or one not found now): saved');
$r = put_hook('http://127.0.0.3:9/ok');
is($r->{status}, 200, 'an address that cvc_webhook_allow names: saved');

# ---- at delivery --------------------------------------------------------------

# a receiver on the allowed address, and one on another loopback address
# that must never be reached; each records the paths it was sent
sub receiver {
    my ($addr, $log) = @_;
    my $srv = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 0,
                                    Proto => 'tcp', Listen => 16, ReuseAddr => 1)
        or die "listen on $addr: $!";
    my $pid = fork // die;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        while (my $c = $srv->accept) {
            my $buf = '';
            while ($buf !~ /\r\n\r\n/) {
                sysread($c, $buf, 65536, length $buf) or last;
            }
            my ($path) = $buf =~ m{^POST (\S+)};
            my ($len) = $buf =~ /^Content-Length: (\d+)/mi;
            my $body = $buf =~ s/^.*?\r\n\r\n//sr;
            while (defined $len && length $body < $len) {
                sysread($c, $body, 65536, length $body) or last;
            }
            open my $fh, '>>', $log or die;
            print $fh ($path // '?'), "\n";
            close $fh;
            if (($path // '') =~ m{/redirect$}) {
                print $c "HTTP/1.1 302 Found\r\nLocation: http://$addr:"
                         . $srv->sockport . "/moved\r\nContent-Length: 0\r\n"
                         . "Connection: close\r\n\r\n";
            } elsif (($path // '') =~ m{/big$}) {
                print $c "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n"
                         . "Connection: close\r\n\r\n", 'x' x 1048576;
            } else {
                print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                         . "Connection: close\r\n\r\nok";
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    return ($pid, $srv->sockport);
}
my ($pid3, $port3) = receiver(webhook_host(), "$dir/hits3");
my ($pid2, $port2) = receiver('127.0.0.2', "$dir/hits2");
END { kill 'KILL', $_ for grep { $_ } ($pid3, $pid2) }

sub hits {
    open my $fh, '<', $_[0] or return [];
    return [map { chomp; $_ } <$fh>];
}
sub deliveries {
    my $d = api_as($admin->{token}, GET => "$hook/deliveries")->{json}{data};
    return ref $d eq 'ARRAY' ? @$d : ();
}
my $ben = new_beneficiary();
# a request created, so a payment_request.created event to the webhook
sub event {
    return new_request($admin->{token}, point_of_sale => $pos->{id},
                       customer => $ben->{id});
}
sub delivery_of {
    my ($url) = @_;
    my $d;
    wait_until(15, sub {
        ($d) = grep { $_->{url} eq $url && $_->{attempts} > 0
                      && (defined $_->{last_error} || defined $_->{last_status}) }
               deliveries();
        return $d;
    });
    return $d // {};
}

# a URL that the save would refuse, put in the database behind its back
my $inside = "http://127.0.0.2:$port2/inside";
psql("update cvc.points_of_sale set webhook_url = '$inside' "
     . "where id = '$pos->{id}'");
event();
my $d = delivery_of($inside);
isnt($d->{status}, 'delivered', 'a loopback URL in the database: not delivered');
like($d->{last_error} // '', qr/^refused: 127\.0\.0\.2 is a loopback address/,
     '... refused where curl connects') or diag explain $d;
is_deeply(hits("$dir/hits2"), [], '... the address was never reached');

# no redirect is followed, even to an allowed address
my $base = 'http://' . webhook_host() . ":$port3";
is(put_hook("$base/redirect")->{status}, 200, 'a URL that redirects: saved');
event();
ok(wait_until(30, sub { ($d) = grep { $_->{url} eq "$base/redirect"
                                      && ($_->{last_status} // 0) == 302 }
                                deliveries() }),
   'a 302: its status recorded') or diag explain [deliveries()];
isnt($d->{status}, 'delivered', '... not delivered');
ok(wait_until(3, sub { grep { $_ eq '/redirect' } @{ hits("$dir/hits3") } }),
   '... the receiver had the POST');
ok(!grep({ $_ eq '/moved' } @{ hits("$dir/hits3") }),
   '... and the redirect was not followed');

# an answer of 1 MB: cut at 64 KB, and the 200 is a delivery
is(put_hook("$base/big")->{status}, 200, 'a receiver with a long answer');
event();
ok(wait_until(15, sub { grep { $_->{url} eq "$base/big"
                               && $_->{status} eq 'delivered' } deliveries() }),
   'a 200 with 1 MB of answer: delivered');

done_testing;
