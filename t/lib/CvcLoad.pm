package CvcLoad;

# A steady load for the reload and upgrade tests: $n client processes,
# each on a kept connection, send a mix of requests (creates with an
# Idempotency-Key, reads, lists, health, and logins whose scrypt runs in
# the thread pool) until the driver returns, then the answers are summed.
#
#   my $sum = under_load(64, sub { ...reload nginx... });
#   $sum->{answers}{200}, {resent}, {failed} (5xx and errors after a
#   resend), {created} (ids), {total}
#
# A kept connection that an old worker closes as it leaves may take a
# request already on its way (HTTP/1.1's own race): a client sends it
# again, once, on a new connection, as HTTP::Tiny does for a GET, with
# the same Idempotency-Key for a create; {resent} counts them.

use strict;
use warnings;
use Exporter 'import';
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Test::More ();
use CvcTest;

our @EXPORT = qw(under_load load_ok);

my $JSON = JSON::PP->new->utf8->canonical;

sub under_load {
    my ($n, $driver) = @_;
    my $conv = new_convention();
    my $pos = new_pos($conv);
    my $seller = merchant_login($pos->{id}, $pos->{password});
    my $ben = new_beneficiary();
    my $one = new_request($seller->{token}, customer => $ben->{id});
    # the clients that log in, each to its own account from its own
    # address (the per-account and per-address rate limits stay away)
    my %login = map { $_ => new_pos($conv) } grep { $_ % 4 == 3 } 0 .. $n - 1;
    my $stop = "$ENV{CVC_TEST_DIR}/tmp/load-stop-$$";
    unlink $stop;

    my $client = sub {
        my ($i) = @_;
        my $url = $ENV{CVC_TEST_URL};
        my $http = HTTP::Tiny->new(timeout => 60, keep_alive => 1);
        my %seen = (answers => {}, resent => 0, failed => [], created => []);
        for (my $k = 0; !-e $stop; $k++) {
            my ($method, $path, $body);
            my %h = (authorization => "Bearer $seller->{token}",
                     'x-forwarded-for' => '192.0.2.35');
            my $kind = $i % 4;
            if ($kind == 0) {
                ($method, $path) = (POST => '/api/v1/payment-requests');
                $body = { mode => 'immediate', amount => 100 + $k,
                          basket_number => "LOAD-$i-$k-" . unique_digits(6),
                          customer => $ben->{id} };
                $h{'idempotency-key'} = "load-$$-$i-$k";
            } elsif ($kind == 1) {
                ($method, $path) = (GET => "/api/v1/payment-requests/$one->{id}");
            } elsif ($kind == 2) {
                ($method, $path) = $k % 2 ? (GET => '/api/v1/health')
                                 : (GET => '/api/v1/payment-requests?limit=20');
            } else {
                ($method, $path) = (POST => '/api/v1/merchant/sessions');
                $body = { login => $login{$i}{id},
                          password => $login{$i}{password} };
                %h = ('x-forwarded-for' => '198.51.100.' . (100 + $i));
            }
            $h{'content-type'} = 'application/json' if $body;
            my $res;
            for my $try (1 .. 2) {
                $res = $http->request($method, "$url$path",
                    { headers => \%h,
                      $body ? (content => $JSON->encode($body)) : () });
                last if $res->{status} != 599;
                $seen{resent}++;
                $http = HTTP::Tiny->new(timeout => 60, keep_alive => 1);
            }
            $seen{answers}{$res->{status}}++;
            if ($res->{status} >= 500) {
                push @{ $seen{failed} }, "$method $path: $res->{status} "
                                         . substr($res->{content} // '', 0, 200);
            }
            if ($kind == 0 && $res->{status} == 201) {
                push @{ $seen{created} },
                     eval { $JSON->decode($res->{content})->{id} } // '?';
            }
        }
        return \%seen;
    };

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $ok = eval { $driver->(); 1 };
        print STDERR "under_load: the driver died: $@" unless $ok;
        open my $fh, '>', $stop or die;
        close $fh;
        POSIX::_exit($ok ? 0 : 1);
    }
    my @seen = parallel($n, $client);
    waitpid $pid, 0;
    my $driver_ok = ($? == 0);
    unlink $stop;

    my %sum = (answers => {}, resent => 0, failed => [], created => [],
               total => 0, driver_ok => $driver_ok, customer => $ben);
    for my $s (@seen) {
        $sum{answers}{$_} += $s->{answers}{$_} for keys %{ $s->{answers} };
        push @{ $sum{failed} }, @{ $s->{failed} };
        push @{ $sum{created} }, @{ $s->{created} };
        $sum{resent} += $s->{resent};
    }
    $sum{total} += $_ for values %{ $sum{answers} };
    return \%sum;
}

# load_ok($sum, $what): every request answered 200 or 201 (none refused,
# none lost, no 5xx), few sent again, each create made once, and the
# customer's e-mail of each create (and of the first request) sent once
sub load_ok {
    my ($sum, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my %a = %{ $sum->{answers} };
    Test::More::note("$what: " . join(', ', map { "$a{$_} x $_" } sort keys %a)
                     . "; $sum->{resent} sent again on a new connection");
    Test::More::ok($sum->{driver_ok}, "$what: done");
    Test::More::cmp_ok($sum->{total}, '>', 300,
                       "$what: requests were made ($sum->{total})");
    Test::More::is_deeply([grep { !/^20[01]$/ } keys %a], [],
                          "$what: every request answered 200 or 201")
        or Test::More::diag(Test::More::explain(\%a));
    Test::More::is_deeply($sum->{failed}, [], "$what: no 5xx")
        or Test::More::diag(join "\n", grep { defined } @{ $sum->{failed} }[0 .. 9]);
    Test::More::cmp_ok($sum->{resent}, '<=', $sum->{total} / 50,
                       "$what: requests sent again: a few at most");
    my @created = @{ $sum->{created} };
    my %uniq = map { $_ => 1 } @created;
    Test::More::cmp_ok(scalar @created, '>', 20,
                       "$what: " . scalar(@created) . ' requests created');
    Test::More::is(scalar keys %uniq, scalar @created,
                   "$what: each once, even where sent again");
    my $want = @created + 1;
    my @mails = wait_mails($sum->{customer}{email}, $want, 90);
    Test::More::is(scalar @mails, $want, "$what: the customer's e-mail of "
                   . 'each request sent once, none lost')
        or Test::More::diag(scalar(@mails) . " e-mails for $want requests");
}

1;
