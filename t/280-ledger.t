# The money in the ledger (docs/api-notes.md, "Money"): a payment moves
# the amount from the wallet to escrow (a pre-reservation) or to
# merchant_pending (no delay); a confirm from escrow to merchant_pending; a
# cancel or an expiry from escrow back to the wallet. Each movement sums to
# zero and names its request; escrow and merchant_pending always hold what
# the requests say. And ledger_ok() itself can see a broken ledger.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.229');
reset_clock();

my $conv = new_convention(name => 'Grand livre');
my $pos = new_pos($conv);
my $m = merchant_login($pos->{id}, $pos->{password});
my $ben = new_beneficiary(balance => 10_000);
my $c = customer_login($ben->{id}, $ben->{password});
my $wallet = "wallet:$ben->{id}";
my $escrow = "escrow:$pos->{id}";
my $pending = "merchant_pending:$pos->{id}";

sub total {
    my ($account) = @_;
    return 0 + psql('select coalesce(sum(amount), 0) from cvc.ledger_entries '
                    . 'where account = ' . sql_quote($account));
}
# the movements of a request: ["kind: account amount, account amount", ...]
sub moves {
    my ($id) = @_;
    my $rows = psql_json(q{select m.id, m.kind, string_agg(e.account || ' '
                             || e.amount, ', ' order by e.amount, e.account) as e
                           from cvc.ledger_movements m
                           join cvc.ledger_entries e on e.movement_id = m.id
                           where m.payment_request_id = } . sql_quote($id)
                         . ' group by m.id, m.kind order by m.id');
    return [map { "$_->{kind}: $_->{e}" } @$rows];
}
sub entries_of {
    my ($id) = @_;
    return [map { s/^\w+: //r } @{ moves($id) }];
}
sub balance { customer_balance($c->{token}) }
sub req { new_request($m->{token}, customer => $ben->{id}, @_) }
sub pay {
    my ($p, %more) = @_;
    my $r = pay_request($c->{token}, $p->{id}, $ben->{payment_code}, %more);
    die "pay: $r->{status} $r->{raw}" unless $r->{status} == 200;
    return $r->{json};
}
sub act { api_as($m->{token}, POST => "/api/v1/payment-requests/$_[1]/$_[0]")->{json} }
sub holds {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $want = psql_json(q{select
        coalesce(sum(amount_received - amount_refunded)
                 filter (where status = 'to_validate'), 0) as escrow,
        coalesce(sum(amount_received - amount_refunded)
                 filter (where status = 'validated'), 0) as pending
        from cvc.payment_requests where point_of_sale_id = }
        . sql_quote($pos->{id}))->[0];
    is_deeply({ escrow => total($escrow), pending => total($pending) },
              { escrow => 0 + $want->{escrow}, pending => 0 + $want->{pending} },
              "$name: escrow holds the paid pre-reservations to validate "
              . "($want->{escrow}), merchant_pending the validated ones "
              . "($want->{pending})");
}

ledger_ok();

# ---- the credit ---------------------------------------------------------------------------------

is(total($wallet), 10_000, "a beneficiary created with 10000: wallet:<id> 10000");
my $credit = psql_json(q{select m.kind, string_agg(e.account || ' ' || e.amount,
                          ', ' order by e.amount) as e
                        from cvc.ledger_movements m
                        join cvc.ledger_entries e on e.movement_id = m.id
                        where m.id in (select movement_id from cvc.ledger_entries
                                       where account = } . sql_quote($wallet) . q{)
                        group by m.id, m.kind});
is_deeply($credit, [{ kind => 'credit', e => "funding -10000, $wallet 10000" }],
          '... one credit: funding -10000, wallet +10000');

# ---- paid without a delay: wallet -> merchant_pending ---------------------------------------------

my $p1 = req(amount => 4000);
is_deeply(moves($p1->{id}), [], 'a request awaiting payment: no movement');
pay($p1);
is_deeply(moves($p1->{id}), ["payment: $wallet -4000, $pending 4000"],
          'paid without a delay: payment, wallet -4000, merchant_pending +4000');
is(balance(), 6000, '... the balance 6000');
holds('after it');

# ---- a pre-reservation: wallet -> escrow -> merchant_pending ----------------------------------------

my $p2 = req(amount => 3000, validation_delay_days => 2);
pay($p2);
is_deeply(moves($p2->{id}), ["payment: $wallet -3000, $escrow 3000"],
          'a pre-reservation paid: payment, wallet -3000, escrow +3000');
holds('paid');
act(confirm => $p2->{id});
my $m2 = moves($p2->{id});
is(scalar @$m2, 2, 'confirmed: a second movement');
is_deeply(entries_of($p2->{id})->[1], "$escrow -3000, $pending 3000",
          '... escrow -3000, merchant_pending +3000');
like($m2->[1] // '', qr/^(payment|credit|refund|payout):/, '... of a known kind');
is(balance(), 3000, '... the balance stays 3000');
holds('confirmed');

# ---- a pre-reservation cancelled: escrow -> wallet ----------------------------------------------------

my $p3 = req(amount => 2000, validation_delay_days => 1);
pay($p3);
is(balance(), 1000, 'another paid: 1000 left');
act(cancel => $p3->{id});
is_deeply(moves($p3->{id}), ["payment: $wallet -2000, $escrow 2000",
                             "refund: $escrow -2000, $wallet 2000"],
          'cancelled: refund, escrow -2000, wallet +2000');
is(balance(), 3000, '... the balance back to 3000');
holds('cancelled');

my $p4 = req(amount => 5000, allow_partial => JSON::PP::true,
             validation_delay_days => 3);
pay($p4, amount => 1500);
act(cancel => $p4->{id});
is_deeply(moves($p4->{id}), ["payment: $wallet -1500, $escrow 1500",
                             "refund: $escrow -1500, $wallet 1500"],
          'a partial payment cancelled: 1500 out and back');

# nothing moves for a refusal or a cancelled request awaiting payment
my $p5 = req(amount => 100);
api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$p5->{id}/refuse");
my $p6 = req(amount => 100);
act(cancel => $p6->{id});
is_deeply([@{ moves($p5->{id}) }, @{ moves($p6->{id}) }], [],
          'refused, or cancelled before payment: no movement');
is(balance(), 3000, '... the balance untouched');
holds('refusals');

# ---- expiry of pre-reservations: back to the wallet, or on to the merchant ---------------------------

set_clock('2026-06-24T08:00:00Z');
$m = merchant_login($pos->{id}, $pos->{password});
$c = customer_login($ben->{id}, $ben->{password});
my $pc = req(amount => 700, validation_delay_days => 1,
             on_validation_expiry => 'cancel');
my $pv = req(amount => 800, validation_delay_days => 1,
             on_validation_expiry => 'validate');
pay($pc);
pay($pv);
is(balance(), 1500, 'two pre-reservations paid (700, 800): 1500 left');
holds('paid');
set_clock('2026-06-25T22:00:10Z');
$m = merchant_login($pos->{id}, $pos->{password});
$c = customer_login($ben->{id}, $ben->{password});
ok(wait_until(30, sub {
       get_request($m->{token}, $pc->{id})->{json}{status} eq 'expired'
       && get_request($m->{token}, $pv->{id})->{json}{status} eq 'validated' }),
   'their deadline passed: expired, validated');
is_deeply(entries_of($pc->{id}), ["$wallet -700, $escrow 700",
                                  "$escrow -700, $wallet 700"],
          'expired: escrow -700, wallet +700');
like(moves($pc->{id})->[1] // '', qr/^refund:/, '... a refund');
is_deeply(entries_of($pv->{id}), ["$wallet -800, $escrow 800",
                                  "$escrow -800, $pending 800"],
          'validated by the deadline: escrow -800, merchant_pending +800');
is(balance(), 2200, 'the balance: 1500 + 700');
holds('after the deadline');
is(reset_clock(), 204, 'clock back to real time');
$m = merchant_login($pos->{id}, $pos->{password});
$c = customer_login($ben->{id}, $ben->{password});

# ---- every movement of these requests balances ------------------------------------------------------------

is(psql(q{select count(*) from (select m.id from cvc.ledger_movements m
          join cvc.ledger_entries e on e.movement_id = m.id
          join cvc.payment_requests p on p.id = m.payment_request_id
          where p.point_of_sale_id = } . sql_quote($pos->{id}) . q{
          group by m.id having sum(e.amount) <> 0 or count(*) < 2) x}), 0,
   "each movement of this point of sale's requests sums to zero");
is(total($wallet), balance(), 'the wallet account is the balance the customer sees');

# ---- ledger_ok() sees a broken ledger ------------------------------------------------------------------

my $victim = new_beneficiary(balance => 100);
my @before = ledger_problems();
is_deeply(\@before, [], 'no problem now');
psql('update cvc.beneficiaries set balance = balance + 1 where id = '
     . sql_quote($victim->{id}));
my @bad = eval { ledger_problems() };
psql('update cvc.beneficiaries set balance = balance - 1 where id = '
     . sql_quote($victim->{id}));
is(scalar(grep { $_->[0] eq 'wallets' && $_->[1] =~ /\Q$victim->{id}\E/ } @bad), 1,
   'a balance off by one cent: ledger_problems() names the beneficiary')
    or diag explain \@bad;
is_deeply([ledger_problems()], [], '... and nothing once put back');

done_testing;
