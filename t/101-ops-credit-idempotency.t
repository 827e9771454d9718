# A credit of the ops API takes an Idempotency-Key, as every POST that
# creates something does: an operator whose credit went unanswered (a 503
# or a lost connection, when PostgreSQL failed after the commit: make chaos
# saw it) sends it again with its key, and the wallet is credited once.
# The same key with another body: 409 idempotency_conflict; while the
# first is in flight: 409 idempotency_in_progress; a bad key: 400; after
# 24 hours the key is forgotten; without a key, every credit credits.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.101');
reset_clock();

my $ben = new_beneficiary(balance => 1000);

sub credit {
    my ($amount, $key, $id) = @_;
    return ops(POST => '/ops/v1/beneficiaries/' . ($id // $ben->{id})
                       . '/credits', { amount => $amount }, xff(),
               defined $key ? ('Idempotency-Key' => $key) : ());
}
sub credits_in_ledger {
    return 0 + psql(q{select count(*) from cvc.ledger_movements m
                      join cvc.ledger_entries e on e.movement_id = m.id
                      where m.kind = 'credit' and e.account = }
                    . sql_quote("wallet:$ben->{id}"));
}
sub balance {
    return 0 + psql('select balance from cvc.beneficiaries where id = '
                    . sql_quote($ben->{id}));
}

is(credits_in_ledger(), 1, 'the beneficiary\'s opening balance: one credit');

# ---- the same key again: the first answer, and one credit ------------------

my $key = 'credit-' . unique_digits(10);
my $r = credit(500, $key);
is($r->{status}, 201, 'a credit with an Idempotency-Key: 201');
is_deeply($r->{json}, { balance => 1500 }, '... the new balance');

my $again = credit(500, $key);
is($again->{status}, 201, 'the same key and body again: 201');
is($again->{raw}, $r->{raw}, '... the first answer, as it was');
is(balance(), 1500, '... and the wallet credited once');
is(credits_in_ledger(), 2, '... one credit movement for the key');

error_ok(credit(700, $key), 409, 'idempotency_conflict',
         'the same key with another amount');
error_ok(credit(500, $key, new_beneficiary()->{id}), 409,
         'idempotency_conflict', 'the same key for another beneficiary');
is(balance(), 1500, '... nothing credited');

# ---- bad keys ---------------------------------------------------------------

for my $bad (['x' x 256, '256 characters'], ['', 'no character'])
{
    $r = credit(100, $bad->[0]);
    error_ok($r, 400, 'invalid_parameter', "a key of $bad->[1]");
}
is(balance(), 1500, '... nothing credited');

# ---- at once: one credit --------------------------------------------------------

my $k2 = 'credit-' . unique_digits(10);
my @res = parallel(8, sub {
    my $x = credit(250, $k2);
    return [$x->{status}, eval { $x->{json}{error}{code} } // ''];
});
my $created = grep { $_->[0] == 201 } @res;
my $busy = grep { $_->[0] == 409 && $_->[1] eq 'idempotency_in_progress' } @res;
cmp_ok($created, '>=', 1, "8 at once with one key: $created 201");
is($created + $busy, 8, '... the others 409 idempotency_in_progress');
is(balance(), 1750, '... the wallet credited once');

# ---- 24 hours later the key is forgotten; no key, no memory ------------------------

set_clock('2027-06-01T08:00:00Z');
my $k3 = 'credit-' . unique_digits(10);
is(credit(100, $k3)->{status}, 201, 'a credit on 1 June');
set_clock('2027-06-02T08:00:01Z');
is(credit(100, $k3)->{status}, 201, 'its key 24 hours later: 201');
is(balance(), 1950, '... a new credit');
reset_clock();

is(credit(50)->{status}, 201, 'without a key: 201');
is(credit(50)->{status}, 201, '... and again: 201');
is(balance(), 2050, '... each credited');

done_testing;
