# Idempotency-Key on POST /api/v1/payment-requests: the first answer
# again for the same body (whatever its order and spacing), 409 for
# another body, keys per account, bad keys, refused creations not
# remembered, 24 hours, and concurrent creations with one key.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use Encode ();
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('192.0.2.210');
reset_clock();

my $conv = new_convention(name => 'Gîtes de la Vallée');
my $pos = new_pos($conv, name => 'Gîte principal');
my $pos2 = new_pos($conv, name => 'Gîte annexe');
my $ben = new_beneficiary(balance => 100_000);

my $admin = merchant_login($conv->{id}, $conv->{password});
my $cashier = merchant_login($pos->{id}, $pos->{password});
my $cashier2 = merchant_login($pos2->{id}, $pos2->{password});
my ($key) = new_api_key($admin->{token}, $pos->{id});

sub idem {
    my ($token, $ikey, $body, %h) = @_;
    return create_request($token, $body, 'Idempotency-Key' => $ikey, %h);
}

sub count_basket {
    my ($b) = @_;
    return psql('select count(*) from cvc.payment_requests where '
                . 'basket_number = ' . sql_quote($b));
}

sub new_body {
    return { mode => 'immediate', amount => 4200, customer => $ben->{id},
             basket_number => unique_basket(), label => 'Nuitée', @_ };
}

# ---- the same key and body: the first answer again -----------------------------------

my $k1 = 'commande-' . unique_digits(10);
my $b1 = new_body();
my $r1 = idem($cashier->{token}, $k1, $b1);
is($r1->{status}, 201, 'a creation with an Idempotency-Key: 201');
my $id1 = $r1->{json}{id} // 'none';
like($id1, qr/^pr_[0-9a-f]{24}\z/, '... a request');

my $r = idem($cashier->{token}, $k1, $b1);
is($r->{status}, 201, 'the same key and body again: 201');
is($r->{json}{id}, $id1, '... the same request');
is($r->{raw}, $r1->{raw}, '... the very same body');
like($r->{headers}{'content-type'} // '', qr{^application/json}, '... JSON');
is(count_basket($b1->{basket_number}), 1, '... and one request in the '
                                          . 'database');

my $raw = sprintf('{ "label" : "Nuit\\u00e9e", "customer":"%s",'
                  . "\n  \"basket_number\": \"%s\" ,\"amount\":4200,"
                  . '"mode":"immediate"}', $ben->{id}, $b1->{basket_number});
$r = idem($cashier->{token}, $k1, $raw, 'Content-Type' => 'application/json');
is($r->{status}, 201, 'the same body, members in another order, other '
                      . 'spacing, an escaped letter: 201');
is($r->{json}{id}, $id1, '... the same request');
is($r->{raw}, $r1->{raw}, '... the very same body');

my $other_session = merchant_login($pos->{id}, $pos->{password});
$r = idem($other_session->{token}, $k1, $b1);
is($r->{json}{id}, $id1, 'another session of the same account: the same '
                         . 'request');
$r = api(POST => '/api/v1/payment-requests', $b1, xff(),
         'Idempotency-Key' => $k1,
         Cookie => 'cvc_session=' . ($cashier->{_cookie} // ''),
         'X-CSRF-Token' => $cashier->{csrf_token});
is($r->{json}{id}, $id1, '... and through the session cookie');
is(count_basket($b1->{basket_number}), 1, 'still one request');

# ---- the same key, another body: 409 --------------------------------------------------

for my $case ([{ %$b1, amount => 4300 }, 'another amount'],
              [{ %$b1, label => 'Nuitee' }, 'another label'],
              [{ %$b1, basket_number => unique_basket() }, 'another basket'],
              [{ %$b1, allow_partial => JSON::PP::true }, 'one more member'],
              [do { my %c = %$b1; delete $c{label}; \%c }, 'one member less'])
{
    $r = idem($cashier->{token}, $k1, $case->[0]);
    error_ok($r, 409, 'idempotency_conflict', "the same key, $case->[1]");
}
is(count_basket($b1->{basket_number}), 1, '... nothing more was created');
$r = get_request($cashier->{token}, $id1);
is($r->{json}{amount}, 4200, '... nor changed');

# ---- keys are per account ----------------------------------------------------------------

error_ok(idem($admin->{token}, $k1, { %$b1, point_of_sale => $pos->{id} }),
         409, 'duplicate_basket',
         "the admin with the point of sale's key: no replay, a duplicate");
error_ok(idem($key, $k1, $b1), 409, 'duplicate_basket',
         "an API key of the point of sale with its key: no replay either");
$r = idem($cashier2->{token}, $k1, $b1);
is($r->{status}, 201, 'another point of sale, the same key and body: 201');
isnt($r->{json}{id}, $id1, '... another request');
is($r->{json}{point_of_sale}, $pos2->{id}, '... of that point of sale');
is(count_basket($b1->{basket_number}), 2, '... two requests in all');

my $k2 = 'cle-' . unique_digits(10);
my $b2 = new_body();
my $ra = idem($key, $k2, $b2);
is($ra->{status}, 201, 'an API key with a key: 201');
$r = idem($key, $k2, $b2);
is($r->{raw}, $ra->{raw}, '... and the first answer again');
$r = idem($key, $k2, { %$b2, amount => 1 });
error_ok($r, 409, 'idempotency_conflict', '... and its conflicts');

# ---- the first answer, even once the request has moved on ------------------------------

is(api_as($admin->{token}, POST => "/api/v1/payment-requests/$id1/cancel")
       ->{json}{status}, 'cancelled', 'the request is cancelled');
$r = idem($cashier->{token}, $k1, $b1);
is($r->{status}, 201, 'the same key and body: 201');
is($r->{raw}, $r1->{raw}, '... the first answer, as it was '
                          . '(awaiting_payment)');
is(count_basket($b1->{basket_number}), 2, '... not a new request (though '
                                          . 'the basket is free)');

# ---- bad keys: 400 ---------------------------------------------------------------------

for my $case (['k' x 256, '256 characters'], ['', 'empty'],
              ["cle\x{1}", 'a control character'], ["cle\x7f", 'DEL'],
              ["cl\tx", 'a tab'],
              [Encode::encode('UTF-8', 'clé'), 'a non-ASCII letter'])
{
    my $b = new_body();
    # raw: HTTP::Tiny refuses to send some of these
    $r = raw_api(POST => '/api/v1/payment-requests',
                 ['X-Forwarded-For' => client_ip(),
                  Authorization => "Bearer $cashier->{token}",
                  'Content-Type' => 'application/json',
                  'Idempotency-Key' => $case->[0]],
                 JSON::PP->new->utf8->encode($b));
    error_ok($r, 400, 'invalid_parameter', "an Idempotency-Key of $case->[1]");
    is(count_basket($b->{basket_number}), 0, '... nothing created');
}
for my $case (['k' x 255, '255 characters'], ['a b:c/d=e~', 'spaces and signs'],
              ['7', 'one character'])
{
    my $b = new_body();
    $r = idem($cashier->{token}, $case->[0], $b);
    is($r->{status}, 201, "an Idempotency-Key of $case->[1]: 201")
        or diag $r->{raw};
    my $again = idem($cashier->{token}, $case->[0], $b);
    is($again->{json}{id}, $r->{json}{id}, '... replayed');
}

# ---- refused creations are not remembered ------------------------------------------------

my $k3 = 'k3-' . unique_digits(10);
my $b3 = new_body();
$r = idem($cashier->{token}, $k3, { %$b3, amount => 0 });
error_ok($r, 422, 'validation_failed', 'a key on an invalid body: 422');
$r = idem($cashier->{token}, $k3, { %$b3, amount => 0 });
error_ok($r, 422, 'validation_failed', '... and again');
$r = idem($cashier->{token}, $k3, $b3);
is($r->{status}, 201, 'the same key on a valid body: 201 (the 422 was not '
                      . 'remembered)');
my $k4 = 'k4-' . unique_digits(10);
$r = idem($cashier->{token}, $k4, { %$b3 });
error_ok($r, 409, 'duplicate_basket', 'a key on a duplicate basket');
$r = idem($cashier->{token}, $k4, new_body());
is($r->{status}, 201, 'the same key on another basket: 201 (the 409 was not '
                      . 'remembered)');

# ---- concurrent creations with one key ------------------------------------------------------

sub summary {
    my ($r) = @_;
    return { status => $r->{status}, raw => $r->{raw},
             code => eval { $r->{json}{error}{code} } // '',
             id => eval { $r->{json}{id} } // '' };
}

for my $round (1 .. 3) {
    my $k = "par-$round-" . unique_digits(10);
    my $b = new_body();
    my @res = parallel(10, sub { summary(idem($cashier->{token}, $k, $b)) });
    my @created = grep { $_->{status} == 201 } @res;
    my @busy = grep { $_->{status} == 409
                      && $_->{code} eq 'idempotency_in_progress' } @res;
    is(@created + @busy, 10, "round $round: 10 creations with one key at "
                             . 'once: each 201 or 409 idempotency_in_progress')
        or diag join ', ', map { "$_->{status} $_->{code}" } @res;
    cmp_ok(scalar @created, '>=', 1, '... at least one 201');
    my %ids = map { $_->{id} => 1 } @created;
    is(scalar keys %ids, 1, '... every 201 names the same request');
    my %raws = map { $_->{raw} => 1 } @created;
    is(scalar keys %raws, 1, '... in the very same body');
    is(count_basket($b->{basket_number}), 1, '... one request in the database');
    $r = idem($cashier->{token}, $k, $b);
    is($r->{json}{id}, (keys %ids)[0], '... which a later retry gets');
}

my $kc = 'mixed-' . unique_digits(10);
my $bc = new_body();
my @res = parallel(10, sub {
    my $i = shift;
    summary(idem($cashier->{token}, $kc, { %$bc, amount => 1000 + $i }));
});
my @created = grep { $_->{status} == 201 } @res;
is(scalar @created, 1, 'one key, 10 different bodies at once: one 201');
is(scalar(grep { $_->{status} == 409 && $_->{code} =~
                 /^idempotency_(conflict|in_progress)\z/ } @res), 9,
   '... and 9 409 idempotency_conflict or idempotency_in_progress')
    or diag join ', ', map { "$_->{status} $_->{code}" } @res;
is(count_basket($bc->{basket_number}), 1, '... one request in the database');

my $bd = new_body();
@res = parallel(10, sub {
    my $i = shift;
    summary(idem($cashier->{token}, "each-$i-" . unique_digits(8), $bd));
});
is(scalar(grep { $_->{status} == 201 } @res), 1,
   'one basket, 10 keys at once: one 201');
is(scalar(grep { $_->{status} == 409 && $_->{code} eq 'duplicate_basket' }
          @res), 9, '... and 9 409 duplicate_basket')
    or diag join ', ', map { "$_->{status} $_->{code}" } @res;
is(count_basket($bd->{basket_number}), 1, '... one request in the database');

# ---- 24 hours --------------------------------------------------------------------------------

set_clock('2026-09-01T08:00:00Z');
my $s = merchant_login($pos->{id}, $pos->{password});
my $k5 = 'day-' . unique_digits(10);
my $b5 = new_body();
my $r5 = idem($s->{token}, $k5, $b5);
is($r5->{status}, 201, 'a key used on 1 September');
set_clock('2026-09-02T07:30:00Z');
$s = merchant_login($pos->{id}, $pos->{password});
$r = idem($s->{token}, $k5, $b5);
is($r->{raw}, $r5->{raw}, '23.5 hours later: the first answer again');
error_ok(idem($s->{token}, $k5, new_body()), 409, 'idempotency_conflict',
         '... and a conflict for another body');
set_clock('2026-09-02T08:30:00Z');
$s = merchant_login($pos->{id}, $pos->{password});
my $b6 = new_body();
$r = idem($s->{token}, $k5, $b6);
is($r->{status}, 201, '24.5 hours later, another body: 201 (the key is '
                      . 'free again)') or diag $r->{raw};
isnt($r->{json}{id}, $r5->{json}{id}, '... a new request');
is(count_basket($b6->{basket_number}), 1, '... created');
is(reset_clock(), 204, 'clock back to real time');

done_testing;
