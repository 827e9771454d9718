# The ops API's provisioning: conventions, points of sale, beneficiaries,
# credits, unlock and the test clock; ids given or generated, duplicates,
# and every bad input named.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.100');
reset_clock_at_end();              # the clock is set by hand below

sub opsx {
    my ($method, $path, $body, %h) = @_;
    return ops($method, $path, $body, xff(), %h);
}

my @categories = qw(accommodation stays_and_transport leisure_and_culture
                    sports_leisure restaurants);

# ---- conventions ------------------------------------------------------

my $cid = unique_digits(6);
my $cpw = new_password();
my $r = opsx(POST => '/ops/v1/conventions',
             { id => $cid, name => 'Gîte des Prés', password => $cpw,
               email => unique_email('t100') });
is($r->{status}, 201, 'a convention with its id: 201');
is_deeply($r->{json}, { id => $cid }, '... answered {"id"}, the id given');

$r = opsx(POST => '/ops/v1/conventions',
          { id => $cid, name => 'Another', password => new_password(),
            email => unique_email('t100') });
error_ok($r, 409, 'already_exists', 'the same convention id again');

my %seen;
for (1 .. 5) {
    $r = opsx(POST => '/ops/v1/conventions',
              { name => "Generated $_", email => unique_email('t100'),
                password => new_password() });
    is($r->{status}, 201, "a convention without an id: 201 ($_)");
    like($r->{json}{id} // '', qr/^[0-9]{6}\z/, '... a 6-digit id');
    $seen{ $r->{json}{id} // '' }++;
}
is(scalar(keys %seen), 5, 'generated convention ids are all different');

# ---- points of sale ---------------------------------------------------

my $pid = unique_digits(12);
my $ppw = new_password();
my %pos = (convention => $cid, id => $pid, name => 'Camping du Lac',
           email => unique_email('t100pos'), password => $ppw,
           category => 'accommodation');
$r = opsx(POST => '/ops/v1/points-of-sale', \%pos);
is($r->{status}, 201, 'a point of sale with its id: 201');
is_deeply($r->{json}, { id => $pid }, '... answered {"id"}, the id given');

$r = opsx(POST => '/ops/v1/points-of-sale',
          { %pos, email => unique_email('t100pos') });
error_ok($r, 409, 'already_exists', 'the same point of sale id again');

%seen = ();
for my $cat (@categories) {
    $r = opsx(POST => '/ops/v1/points-of-sale',
              { convention => $cid, name => "Point $cat", category => $cat,
                email => unique_email('t100pos'),
                password => new_password() });
    is($r->{status}, 201, "category $cat: 201");
    like($r->{json}{id} // '', qr/^[0-9]{12}\z/, '... a generated 12-digit id');
    $seen{ $r->{json}{id} // '' }++;
}
is(scalar(keys %seen), 5, 'generated point of sale ids are all different');

# the ids given are the logins
my $s = merchant_login_r($pid, $ppw);
is($s->{status}, 201, 'the point of sale logs in with the id given');
is($s->{json}{account}{convention}, $cid, '... in its convention');
$s = merchant_login_r($cid, $cpw);
is($s->{status}, 201, 'the convention logs in with the id given');

my $nobody = unique_digits(6);
delete $pos{id};
$r = opsx(POST => '/ops/v1/points-of-sale',
          { %pos, convention => $nobody, email => unique_email('t100pos') });
error_ok($r, 422, 'validation_failed', 'an unknown convention');
fields_are($r, ['convention'], 'an unknown convention');

$r = opsx(POST => '/ops/v1/points-of-sale', { %pos, category => 'hotel' });
error_ok($r, 422, 'validation_failed', 'an unknown category');
fields_are($r, ['category'], 'an unknown category');

$r = opsx(POST => '/ops/v1/points-of-sale', {});
error_ok($r, 422, 'validation_failed', 'an empty object');
fields_are($r, [qw(convention name email password category)],
           'every missing field');

$r = opsx(POST => '/ops/v1/points-of-sale',
          { convention => 0 + "$cid", id => 0 + unique_digits(12),
            name => 'x' x 256, email => 'not-an-address',
            password => 'short', category => 3, colour => 'blue' });
error_ok($r, 422, 'validation_failed', 'bad fields');
fields_are($r, [qw(convention id name email password category colour)],
           'bad fields');
like($r->{json}{error}{fields}{colour} // '', qr/unknown/i,
     'an unknown field is called so');

$r = opsx(POST => '/ops/v1/points-of-sale',
          { %pos, id => unique_digits(11), password => 'p' x 129 });
fields_are($r, [qw(id password)], '11 digits for a point of sale id, '
                                  . 'a password of 129 characters');

$r = opsx(POST => '/ops/v1/points-of-sale', '{"convention": "1',
          'Content-Type' => 'application/json');
error_ok($r, 400, 'invalid_json', 'malformed JSON');

$r = call(POST => '/ops/v1/points-of-sale', \%pos);
error_ok($r, 401, 'unauthenticated', 'no ops token');
$r = call(POST => '/ops/v1/points-of-sale', \%pos,
          auth_header($s->{json}{token} // 'x'));
error_ok($r, 401, 'unauthenticated', 'a merchant session is no ops token');

# ---- beneficiaries ----------------------------------------------------

my $bid = unique_digits(11);
my $bmail = unique_email('t100benef');
my %benef = (id => $bid, email => $bmail, password => new_password(),
             payment_code => remember_secret(unique_digits(6),
                                             'payment_code'));
$r = opsx(POST => '/ops/v1/beneficiaries', \%benef);
is($r->{status}, 201, 'a beneficiary with its id: 201');
is_deeply($r->{json}, { id => $bid }, '... answered {"id"}, the id given');

$r = opsx(POST => '/ops/v1/beneficiaries',
          { %benef, email => unique_email('t100benef') });
error_ok($r, 409, 'already_exists', 'the same beneficiary id again');

$r = opsx(POST => '/ops/v1/beneficiaries',
          { %benef, id => unique_digits(11) });
error_ok($r, 409, 'already_exists', 'the same e-mail again');

$r = opsx(POST => '/ops/v1/beneficiaries',
          { %benef, id => unique_digits(11), email => uc $bmail });
error_ok($r, 409, 'already_exists',
         'the same e-mail in capitals (e-mail logins ignore case)');

%seen = ();
for (1 .. 3) {
    $r = opsx(POST => '/ops/v1/beneficiaries',
              { email => unique_email('t100benef'),
                password => new_password(),
                payment_code => remember_secret(unique_digits(6),
                                                'payment_code') });
    is($r->{status}, 201, "a beneficiary without an id: 201 ($_)");
    like($r->{json}{id} // '', qr/^[0-9]{11}\z/, '... an 11-digit id');
    $seen{ $r->{json}{id} // '' }++;
}
is(scalar(keys %seen), 3, 'generated beneficiary ids are all different');

# the same id or e-mail five times at once: one 201, four 409
my $race_id = unique_digits(11);
my @st = sort map { $_->{status} } parallel(5, sub {
    my $i = shift;
    my $r = ops(POST => '/ops/v1/beneficiaries',
                { id => $race_id, email => unique_email("t100race$i"),
                  password => new_password(),
                  payment_code => unique_digits(6) }, xff());
    return { status => $r->{status}, code => eval { $r->{json}{error}{code} } };
});
is("@st", '201 409 409 409 409', 'one beneficiary id five times at once: '
                                 . 'one 201, four 409');
my $race_mail = unique_email('t100race');
@st = sort map { $_->{status} } parallel(5, sub {
    my $r = ops(POST => '/ops/v1/beneficiaries',
                { email => $race_mail, password => new_password(),
                  payment_code => unique_digits(6) }, xff());
    return { status => $r->{status} };
});
is("@st", '201 409 409 409 409', 'one e-mail five times at once: '
                                 . 'one 201, four 409');
my $race_pos = unique_digits(12);
@st = sort map { $_->{status} } parallel(5, sub {
    my $i = shift;
    my $r = ops(POST => '/ops/v1/points-of-sale',
                { convention => $cid, id => $race_pos, name => "Race $i",
                  email => unique_email('t100race'), category => 'restaurants',
                  password => new_password() }, xff());
    return { status => $r->{status} };
});
is("@st", '201 409 409 409 409', 'one point of sale id five times at once: '
                                 . 'one 201, four 409');

# balance: optional, 0 by default, 0..10 000 000, credited like a credit
my $b0 = new_beneficiary();
$r = opsx(POST => "/ops/v1/beneficiaries/$b0->{id}/credits", { amount => 100 });
is($r->{status}, 201, 'a credit: 201');
is_deeply($r->{json}, { balance => 100 }, 'no balance given: it was 0');

my $b1 = new_beneficiary(balance => 2500);
$r = opsx(POST => "/ops/v1/beneficiaries/$b1->{id}/credits", { amount => 1 });
is_deeply($r->{json}, { balance => 2501 }, 'a balance given: 2500 + 1');
$r = opsx(POST => "/ops/v1/beneficiaries/$b1->{id}/credits",
          { amount => 10_000_000 });
is($r->{status}, 201, 'the largest credit, 10 000 000 cents');
is_deeply($r->{json}, { balance => 10_002_501 }, '... credits add up');

for my $ok (0, 10_000_000) {
    $r = opsx(POST => '/ops/v1/beneficiaries',
              { email => unique_email('t100benef'), password => new_password(),
                payment_code => unique_digits(6), balance => $ok });
    is($r->{status}, 201, "a balance of $ok: 201");
}

$r = opsx(POST => '/ops/v1/beneficiaries',
          { email => unique_email('t100benef'), password => new_password(),
            payment_code => '012345' });
is($r->{status}, 201, 'a payment code with a leading zero is 6 digits too');

for my $bad ([-1, 'a negative balance'], [10_000_001, 'a balance too high'],
             ['100', 'a balance as a string'], [1.5, 'a fraction of a cent'])
{
    $r = opsx(POST => '/ops/v1/beneficiaries',
              { email => unique_email('t100benef'), password => new_password(),
                payment_code => unique_digits(6), balance => $bad->[0] });
    error_ok($r, 422, 'validation_failed', $bad->[1]);
    fields_are($r, ['balance'], $bad->[1]);
}

for my $bad (['12345', 'five digits'], ['1234567', 'seven digits'],
             ['12a456', 'a letter'], [123456, 'a number, not a string'])
{
    $r = opsx(POST => '/ops/v1/beneficiaries',
              { email => unique_email('t100benef'), password => new_password(),
                payment_code => $bad->[0] });
    error_ok($r, 422, 'validation_failed', "a payment code of $bad->[1]");
    fields_are($r, ['payment_code'], "a payment code of $bad->[1]");
}

$r = opsx(POST => '/ops/v1/beneficiaries', { note => 'x' });
fields_are($r, [qw(email password payment_code note)],
           'missing fields and an unknown one');

$r = opsx(POST => '/ops/v1/beneficiaries',
          { id => unique_digits(10), email => 'nobody', password => 'short',
            payment_code => unique_digits(6) });
error_ok($r, 422, 'validation_failed', 'a short id, e-mail and password');
fields_are($r, [qw(id email password)], 'a short id, e-mail and password');

$r = opsx(POST => '/ops/v1/beneficiaries',
          { id => 0 + unique_digits(11), email => unique_email('t100benef'),
            password => new_password(), payment_code => unique_digits(6) });
fields_are($r, ['id'], 'an id as a number');

# ---- credits and unlock -------------------------------------------------

for my $bad ([0, 'zero'], [-5, 'negative'], ['500', 'a string'],
             [5.5, 'a fraction'], [10_000_001, 'over 10 000 000'])
{
    $r = opsx(POST => "/ops/v1/beneficiaries/$b0->{id}/credits",
              { amount => $bad->[0] });
    error_ok($r, 422, 'validation_failed', "a credit $bad->[1]");
    fields_are($r, ['amount'], "a credit $bad->[1]");
}
$r = opsx(POST => "/ops/v1/beneficiaries/$b0->{id}/credits", {});
fields_are($r, ['amount'], 'a credit without an amount');
$r = opsx(POST => "/ops/v1/beneficiaries/$b0->{id}/credits",
          { amount => 5, reason => 'gift' });
fields_are($r, ['reason'], 'a credit with an unknown field');

$r = opsx(POST => "/ops/v1/beneficiaries/$b0->{id}/credits", { amount => 7 });
is_deeply($r->{json}, { balance => 107 },
          'refused credits changed nothing: 100 + 7');

my $ghost = unique_digits(11);
$r = opsx(POST => "/ops/v1/beneficiaries/$ghost/credits", { amount => 5 });
error_ok($r, 404, 'not_found', 'a credit to nobody');

$r = opsx(POST => "/ops/v1/beneficiaries/$b0->{id}/unlock");
is($r->{status}, 204, 'unlock: 204');
is($r->{raw}, '', '... no body');
$r = opsx(POST => "/ops/v1/beneficiaries/$ghost/unlock");
error_ok($r, 404, 'not_found', 'unlock nobody');

$r = call(POST => "/ops/v1/beneficiaries/$b0->{id}/credits", { amount => 5 });
error_ok($r, 401, 'unauthenticated', 'a credit without the ops token');
$r = call(POST => "/api/v1/ops/v1/beneficiaries/$b0->{id}/credits",
          { amount => 5 });
is($r->{status}, 404, 'ops routes are not on the API location');

# ---- the test clock -----------------------------------------------------

$r = opsx(PUT => '/ops/v1/clock', { now => '2026-06-24T09:33:00Z' });
is($r->{status}, 200, 'PUT /ops/v1/clock: 200');
is_deeply([keys %{ $r->{json} // {} }], ['now'], '... {"now"}');
like($r->{json}{now} // '', qr/^2026-06-24T09:33:0\d(?:\.\d+)?Z\z/,
     '... the instant given, in UTC');

$r = opsx(PUT => '/ops/v1/clock', { now => '2026-06-24T11:33:00+02:00' });
is($r->{status}, 200, 'a time with an offset: 200');
like($r->{json}{now} // '', qr/^2026-06-24T09:33:0\d(?:\.\d+)?Z\z/,
     '... answered in UTC');

for my $bad (['2026-06-24', 'a date'], ['yesterday', 'words'],
             [1782293580, 'a number'], ['2026-06-24T25:00:00Z', 'hour 25'])
{
    $r = opsx(PUT => '/ops/v1/clock', { now => $bad->[0] });
    error_ok($r, 422, 'validation_failed', "the clock set to $bad->[1]");
    fields_are($r, ['now'], "the clock set to $bad->[1]");
}
$r = opsx(PUT => '/ops/v1/clock', { now => '2026-06-24T09:33:00Z', tz => 1 });
fields_are($r, ['tz'], 'the clock with an unknown field');
$r = opsx(PUT => '/ops/v1/clock', {});
fields_are($r, ['now'], 'the clock without "now"');

$r = call(PUT => '/ops/v1/clock', { now => '2030-01-01T00:00:00Z' });
error_ok($r, 401, 'unauthenticated', 'the clock without the ops token');

$r = opsx(DELETE => '/ops/v1/clock');
is($r->{status}, 204, 'DELETE /ops/v1/clock: 204');
$r = call(DELETE => '/ops/v1/clock');
error_ok($r, 401, 'unauthenticated', 'DELETE the clock without the token');

done_testing;
