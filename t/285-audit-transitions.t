# Every payment transition in the audit log: created, paid, confirmed
# (validated), cancelled and refunded, refused, expired; who acted, from
# which address, with the request id of the answer, in the transaction of
# the transition itself.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.85');
reset_clock();

my $conv = new_convention();
my $pos = new_pos($conv);
my $m = merchant_login($pos->{id}, $pos->{password});
my $ben = new_beneficiary(balance => 10000);
my $c = customer_login($ben->{id}, $ben->{password});
my $seller = "point_of_sale:$pos->{id}";
my $customer = "customer:$ben->{id}";

sub audited {
    my ($pr, $event) = @_;
    return [grep { ($_->{details}{payment_request} // '') eq $pr }
            @{ audit_rows(event => "payment_request_$event") }];
}
sub one_row_ok {
    my ($pr, $event, $account, $r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $rows = audited($pr, $event);
    is(scalar @$rows, 1, "$name: one payment_request_$event row") or return;
    my $row = $rows->[0];
    is($row->{account}, $account, "$name: by $account");
    if ($r) {
        is($row->{client_ip}, '192.0.2.85', "$name: from the client's address");
        is($row->{request_id}, $r->{headers}{'x-request-id'},
           "$name: with the answer's request id");
    } else {
        is($row->{client_ip}, undef, "$name: no address (a timer)");
    }
    return $row;
}

# created, paid, confirmed
my $r = create_request($m->{token}, { mode => 'immediate', amount => 3100,
                                      basket_number => unique_basket(),
                                      customer => $ben->{id},
                                      validation_delay_days => 2 });
is($r->{status}, 201, 'a pre-reservation');
my $p = $r->{json};
one_row_ok($p->{id}, 'created', $seller, $r, 'created');
$r = api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$p->{id}/pay",
            { payment_code => $ben->{payment_code} });
is($r->{status}, 200, 'paid');
my $row = one_row_ok($p->{id}, 'paid', $customer, $r, 'paid');
is($row->{details}{amount}, 3100, '... the amount');
$r = api_as($m->{token}, POST => "/api/v1/payment-requests/$p->{id}/confirm");
is($r->{status}, 200, 'confirmed');
one_row_ok($p->{id}, 'confirmed', $seller, $r, 'confirmed');

# paid then cancelled: the refund too
$p = new_request($m->{token}, customer => $ben->{id}, amount => 700,
                 validation_delay_days => 1);
pay_request($c->{token}, $p->{id}, $ben->{payment_code});
$r = api_as($m->{token}, POST => "/api/v1/payment-requests/$p->{id}/cancel");
is($r->{status}, 200, 'a paid pre-reservation cancelled');
one_row_ok($p->{id}, 'cancelled', $seller, $r, 'cancelled');
$row = one_row_ok($p->{id}, 'refunded', 'system', $r, 'refunded');
is($row->{details}{amount}, 700, '... the amount re-credited');

# refused
$p = new_request($m->{token}, customer => $ben->{id}, amount => 500);
$r = api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$p->{id}/refuse");
is($r->{status}, 200, 'refused');
one_row_ok($p->{id}, 'refused', $customer, $r, 'refused');

# a failed transition leaves no row
$r = api_as($m->{token}, POST => "/api/v1/payment-requests/$p->{id}/confirm");
is($r->{status}, 409, 'confirming a refused request: 409');
is(scalar @{ audited($p->{id}, 'confirmed') }, 0, '... and no audit row');

# expired, by the timer
$p = new_request($m->{token}, customer => $ben->{id}, amount => 200);
set_clock('2031-02-01T10:00:00Z');
ok(wait_until(10, sub { @{ audited($p->{id}, 'expired') } }), 'expired by its timer');
one_row_ok($p->{id}, 'expired', 'system', undef, 'expired');

done_testing;
