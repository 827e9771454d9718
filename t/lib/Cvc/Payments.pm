package Cvc::Payments;

# Payment requests and the money: making, reading and paying requests, a
# customer's balance, waiting for a request's status, and the ledger's
# invariant (ledger_ok), which done_testing() checks at the end of every
# test file.
#
#   my $pr = new_request($token, customer => $b->{id}, amount => 4000);
#   my $r = create_request($token, \%body, %headers);   # the response
#   my $r = get_request($token, $pr->{id});
#   my $r = pay_request($ctoken, $pr->{id}, $code, amount => 100);
#   customer_balance($ctoken);  pr_members();  unique_basket('X');
#   wait_status($token, $id, 'expired', 5);   # true once GET shows it
#   ledger_ok();                 # the money invariant (3 tests); also run
#                                # by done_testing() below, in every file
#   my @bad = ledger_problems(); # the same, as a list of problems

use strict;
use warnings;
use Exporter 'import';
use Cvc::Stack qw(psql psql_json);
use Cvc::Http qw(api_as wait_until must);
use Cvc::Accounts qw(unique_digits remember_secret);

our @EXPORT = qw(new_request create_request get_request pay_request
                 customer_balance pr_members unique_basket wait_status
                 ledger_ok ledger_problems done_testing);

sub unique_basket { return 'PANIER-' . ($_[0] // '') . unique_digits(10) }

# the members of the payment request object, as the contract lists them
sub pr_members {
    return qw(id point_of_sale mode type status amount amount_received
              amount_refunded currency allow_partial basket_number customer
              label customer_reference seller_id validation_delay_days
              on_validation_expiry pay_by validation_deadline notify_email
              created_at paid_at validated_at cancelled_at expired_at
              refused_at last_action_at);
}

# create_request($token, \%body, %headers) -> the response of the POST
sub create_request {
    my ($token, $body, %h) = @_;
    return api_as($token, POST => '/api/v1/payment-requests', $body, %h);
}

# new_request($token, %fields) -> the 201's JSON; dies otherwise.
# Defaults: immediate, 4000 cents, a fresh basket number.
sub new_request {
    my ($token, %f) = @_;
    my %body = (mode => 'immediate', amount => 4000,
                basket_number => unique_basket(), %f);
    delete @body{ grep { !defined $body{$_} && $_ ne 'notify_email' }
                  keys %body };
    my $r = must(create_request($token, \%body), 201,
                 'POST /api/v1/payment-requests');
    return $r->{json};
}

# get_request($token, $id) -> the response of GET /payment-requests/{id}
sub get_request {
    my ($token, $id) = @_;
    return api_as($token, GET => "/api/v1/payment-requests/$id");
}

# pay_request($ctoken, $id, $code, %more) -> the response of …/pay
sub pay_request {
    my ($token, $id, $code, %more) = @_;
    remember_secret($code, 'payment_code') if defined $code && !ref $code;
    return api_as($token, POST => "/api/v1/customer/payment-requests/$id/pay",
                  { payment_code => $code, %more });
}

# customer_balance($ctoken) -> the balance GET /customer/me shows
sub customer_balance {
    my ($token) = @_;
    my $r = must(api_as($token, GET => '/api/v1/customer/me'), 200,
                 'GET /api/v1/customer/me');
    return $r->{json}{balance};
}

# wait_status($token, $id, $status, $seconds) -> true once the request
# has that status
sub wait_status {
    my ($token, $id, $status, $seconds) = @_;
    return wait_until($seconds // 5, sub {
        my $r = get_request($token, $id);
        $r->{status} == 200 && ($r->{json}{status} // '') eq $status;
    });
}

# ledger_problems() -> ([check, description], ...): what breaks the money
# invariant. Checks: "balanced" (a movement whose entries don't sum to
# zero), "wallets" (a beneficiary whose balance is not the sum of its
# wallet:<id> entries, or wallet entries of nobody), "negative" (a
# balance, a wallet, an escrow or a merchant account below zero: only
# "funding", where money comes in, may be; or a request's amounts).
sub ledger_problems {
    my @bad;
    my $n = psql('select count(*) from (select movement_id from '
                 . 'cvc.ledger_entries group by 1 having sum(amount) <> 0) x');
    push @bad, [balanced => "$n movement(s) whose entries don't sum to zero"]
        if $n;
    for my $row (@{ psql_json(q{
            select coalesce(b.id, w.id) as id, b.balance, w.total
            from cvc.beneficiaries b
            full join (select substr(account, 8) as id, sum(amount) as total
                       from cvc.ledger_entries where account like 'wallet:%'
                       group by 1) w on w.id = b.id
            where b.id is null or b.balance <> coalesce(w.total, 0)
            order by 1 limit 20}) })
    {
        push @bad, [wallets => sprintf 'beneficiary %s: balance %s, wallet '
                    . 'entries %s', $row->{id}, $row->{balance} // 'none',
                    $row->{total} // 0];
    }
    for my $row (@{ psql_json(q{
            select account, sum(amount) as total from cvc.ledger_entries
            where account <> 'funding' group by 1 having sum(amount) < 0
            order by 1 limit 20}) })
    {
        push @bad, [negative => "account $row->{account}: $row->{total}"];
    }
    $n = psql('select count(*) from cvc.beneficiaries where balance < 0');
    push @bad, [negative => "$n negative balance(s)"] if $n;
    if (psql(q{select to_regclass('cvc.payment_requests') is not null}) eq 't') {
        $n = psql('select count(*) from cvc.payment_requests where '
                  . 'amount_refunded < 0 or amount_received < 0');
        push @bad, [negative => "$n request(s) with a negative amount "
                                . "received or refunded"] if $n;
    }
    return @bad;
}

# ledger_ok(): the money invariant holds, as three tests
sub ledger_ok {
    local $Test::Builder::Level = ($Test::Builder::Level // 1) + 1;
    my @bad = eval { ledger_problems() };
    @bad = map { [$_ => "can't read the ledger: $@"] }
               qw(balanced wallets negative) if $@;
    my $ok = 1;
    for my $check (['balanced', 'every movement\'s entries sum to zero'],
                   ['wallets', 'every balance is the sum of its wallet '
                               . 'entries'],
                   ['negative', 'nothing is negative'])
    {
        my @mine = map { $_->[1] } grep { $_->[0] eq $check->[0] } @bad;
        $ok &= Test::More::ok(!@mine, "ledger: $check->[1]");
        Test::More::diag(join "\n", @mine) if @mine;
    }
    return $ok;
}

# done_testing(): ledger_ok(), then Test::More's. Test files say
# "use Test::More; use CvcTest;": CvcTest's import comes last and wins.
sub done_testing {
    ledger_ok() if $ENV{CVC_TEST_URL};
    goto &Test::More::done_testing;
}

1;
