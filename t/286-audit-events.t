# GET /ops/v1/audit-events: the audit log read through the ops API. A
# payment request's whole money trail (created, paid, confirmed), newest
# first, each with who acted, from which address and the answer's request
# id; the filters (account, event, payment request, Paris days); pages
# that cover every row once; bad parameters; the ops token.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.86');

my $conv = new_convention();
my $pos = new_pos($conv);
my $m = merchant_login($pos->{id}, $pos->{password});
my $ben = new_beneficiary(balance => 10000);
my $c = customer_login($ben->{id}, $ben->{password});
my $seller = "point_of_sale:$pos->{id}";
my $customer = "customer:$ben->{id}";

sub audit {
    my ($query) = @_;
    return ops(GET => "/ops/v1/audit-events$query");
}

# a pre-reservation: created, paid, confirmed
my $created = create_request($m->{token}, {
    mode => 'immediate', amount => 2600, basket_number => unique_basket(),
    customer => $ben->{id}, validation_delay_days => 2 });
is($created->{status}, 201, 'a pre-reservation');
my $pr = $created->{json}{id};
my $paid = pay_request($c->{token}, $pr, $ben->{payment_code});
is($paid->{status}, 200, 'paid');
my $confirmed = api_as($m->{token},
                       POST => "/api/v1/payment-requests/$pr/confirm");
is($confirmed->{status}, 200, 'confirmed');

my $r = audit("?payment_request=$pr");
is($r->{status}, 200, 'the trail of one request: 200');
is_deeply([map { $_->{event} } @{ $r->{json}{data} }],
          [qw(payment_request_confirmed payment_request_paid
              payment_request_created)],
          '... its three transitions, newest first');
is($r->{json}{next_cursor}, undef, '... on one page');

my %answer = (payment_request_created => [$created, $seller],
              payment_request_paid => [$paid, $customer],
              payment_request_confirmed => [$confirmed, $seller]);

for my $e (@{ $r->{json}{data} }) {
    my ($resp, $who) = @{ $answer{ $e->{event} } };
    is($e->{account}, $who, "$e->{event}: by $who");
    is($e->{client_ip}, '192.0.2.86', "$e->{event}: from the client's address");
    is($e->{request_id}, $resp->{headers}{'x-request-id'},
       "$e->{event}: the request id of its answer");
    is($e->{details}{payment_request}, $pr, "$e->{event}: the request");
    ok(is_utc_time($e->{at}), "$e->{event}: at an RFC 3339 UTC time");
    like($e->{id}, qr/^\d+$/, "$e->{event}: an id");
}

my ($pay) = grep { $_->{event} eq 'payment_request_paid' }
            @{ $r->{json}{data} };
is($pay->{details}{amount}, 2600, 'paid: the amount');

# filters add up
$r = audit("?account=$customer&event=payment_request_paid");
is($r->{status}, 200, 'by account and event');
is(scalar @{ $r->{json}{data} }, 1, '... the one payment of this customer');
is($r->{json}{data}[0]{details}{payment_request}, $pr, '... this request');

$r = audit("?account=$customer");
ok((grep { $_->{event} eq 'login_succeeded' } @{ $r->{json}{data} }),
   "the customer's login is in its trail too");
ok(!(grep { ($_->{account} // '') ne $customer } @{ $r->{json}{data} }),
   '... and nobody else\'s events');

my $today = paris_date(epoch_of($created->{json}{created_at}));
$r = audit("?payment_request=$pr&from=$today&to=$today");
is(scalar @{ $r->{json}{data} }, 3, 'from and to the day of the events');
my $tomorrow = add_days($today, 1);
$r = audit("?payment_request=$pr&from=$tomorrow");
is_deeply($r->{json}{data}, [], 'from the next day: none');
my $yesterday = add_days($today, -1);
$r = audit("?payment_request=$pr&to=$yesterday");
is_deeply($r->{json}{data}, [], 'to the day before: none');

# pages: every row once, newest first
my (@seen, $cursor, $pages);
do {
    $r = audit("?account=$seller&limit=1"
               . (defined $cursor ? "&cursor=$cursor" : ''));
    is($r->{status}, 200, 'a page of one') or last;
    push @seen, map { $_->{id} } @{ $r->{json}{data} };
    $cursor = $r->{json}{next_cursor};
    $pages++;
} while (defined $cursor && $pages < 50);

my $all = audit("?account=$seller&limit=100");
is_deeply(\@seen, [map { $_->{id} } @{ $all->{json}{data} }],
          'pages of one give every row of the seller once, in order');
cmp_ok(scalar @seen, '>=', 3, '... its login and two transitions at least');

# bad input
error_ok(audit('?limit=0'), 400, 'invalid_parameter', 'limit 0');
error_ok(audit('?limit=101'), 400, 'invalid_parameter', 'limit 101');
error_ok(audit('?from=2026-02-30'), 400, 'invalid_parameter', 'no such day');
error_ok(audit('?cursor=bm90LWEtY3Vyc29y'), 400, 'invalid_parameter',
         'a cursor this API did not give');
error_ok(audit('?secret=1'), 400, 'invalid_parameter', 'an unknown parameter');
error_ok(audit('?account=' . ('a' x 65)), 400, 'invalid_parameter',
         'an account of 65 characters');

# the operator only
$r = api(GET => '/ops/v1/audit-events', undef,
         Authorization => 'Bearer not-the-token');
error_ok($r, 401, 'unauthenticated', 'a wrong ops token');
$r = api_as($m->{token}, GET => '/api/v1/ops/v1/audit-events');
is($r->{status}, 404, 'not on the API location');

done_testing();
