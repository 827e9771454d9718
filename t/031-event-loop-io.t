# The blocking calls the module makes (libcurl for webhooks and e-mails,
# libpq's blocking calls of an export: PQexec, PQconnectdbParams) run in
# the thread pool: while a webhook receiver stays silent, and while an
# export waits on a frozen PostgreSQL, the one worker of the test stack
# answers a plain location at once. (scrypt: t/030.)
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use HTTP::Tiny;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.31');

my $conv = new_convention();
my $pos = new_pos($conv);
my $m = merchant_login($pos->{id}, $pos->{password});
my $ben = new_beneficiary();

# ---- a webhook receiver that accepts and never answers --------------------------------

my $srv = IO::Socket::INET->new(LocalAddr => webhook_host(), LocalPort => 0,
                                Proto => 'tcp', Listen => 16, ReuseAddr => 1)
    or die "listen: $!";
my $url = 'http://' . webhook_host() . ':' . $srv->sockport . '/silent';
is(api_as($m->{token}, PUT => "/api/v1/points-of-sale/$pos->{id}/webhook",
          { url => $url })->{status}, 200, 'a webhook to a silent receiver');

my ($res, $slowest, $pings) = ping_during(sub {
    new_request($m->{token}, customer => $ben->{id}) for 1 .. 3;
    my $t0 = time;
    my $c = $srv->accept;                 # the delivery has connected
    sleep 3;                              # and waits for an answer
    close $c if $c;
    return { waited => time - $t0 };
});
cmp_ok($pings, '>=', 10, "pinged $pings times while a delivery waited");
cmp_ok($slowest, '<', 0.5, sprintf('... each at once (slowest %.3f s)', $slowest));
api_as($m->{token}, DELETE => "/api/v1/points-of-sale/$pos->{id}/webhook");

# ---- an export on a frozen PostgreSQL -------------------------------------------------

# one export first, so that the worker keeps its connection for exports
is(api_as($m->{token}, GET => '/api/v1/payment-requests/export?format=csv')->{status},
   200, 'an export');
stack('pg-freeze');
($res, $slowest, $pings) = ping_during(sub {
    my $t0 = time;                        # a client that gives up at 4 s
    my $r = HTTP::Tiny->new(timeout => 4)->get(
        "$ENV{CVC_TEST_URL}/api/v1/payment-requests/export?format=csv",
        { headers => { authorization => "Bearer $m->{token}", xff() } });
    return { status => $r->{status}, took => time - $t0 };
});
stack('pg-thaw');
cmp_ok($pings, '>=', 10, "pinged $pings times while an export waited on PostgreSQL");
cmp_ok($slowest, '<', 0.5, sprintf('... each at once (slowest %.3f s)', $slowest));
cmp_ok($res->[0]{took}, '>=', 1, sprintf('the export did wait (%.1f s)', $res->[0]{took}));
ok(wait_until(10, sub { api(GET => '/api/v1/health')->{status} == 200 }),
   'healthy again after the thaw');

done_testing;
