# Merchant login: the session answer and its cookie, wrong passwords and
# the 3-strike lockout, unknown and malformed logins, bad bodies.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.110');
reset_clock();

my $conv = new_convention(name => 'Village Vacances des Pins');
my $pos = new_pos($conv, name => 'Accueil Plage', category => 'restaurants');

sub attempts_left_is {
    my ($r, $n, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    error_ok($r, 401, 'invalid_credentials', $name);
    is($r->{json}{error}{attempts_left}, $n, "$name: attempts_left $n");
    like($r->{raw}, qr/"attempts_left"\s*:\s*$n\b/,
         "$name: attempts_left is a JSON number");
}

# ---- success ------------------------------------------------------------

my $t0 = time;
my $r = merchant_login_r($conv->{id}, $conv->{password});
is($r->{status}, 201, 'admin login: 201');
like($r->{headers}{'content-type'} // '', qr{^application/json}, '... JSON');
is($r->{headers}{'cache-control'}, 'no-store', '... no-store');
my $j = $r->{json} // {};
is_deeply([sort keys %$j], [qw(account csrf_token expires_at token)],
          '... {token, expires_at, csrf_token, account}');
is_deeply($j->{account}, { kind => 'admin', id => $conv->{id},
                           convention => $conv->{id}, name => $conv->{name} },
          '... account: kind admin, id, convention, name');
like($j->{token} // '', qr/^[A-Za-z0-9._~+\/=-]{32,}\z/,
     '... a long token that fits in a header');
like($j->{csrf_token} // '', qr/^\S{16,}\z/, '... a CSRF token');
isnt($j->{csrf_token}, $j->{token}, '... not the session token');
ok(is_utc_time($j->{expires_at}), "... expires_at in RFC 3339 UTC "
                                  . "($j->{expires_at})");
my $exp = epoch_of($j->{expires_at} // '') // 0;
cmp_ok(abs($exp - ($t0 + 15 * 60)), '<=', 10,
       '... 15 minutes from now (idle time)');

my @cookies = ref $r->{headers}{'set-cookie'} ? @{ $r->{headers}{'set-cookie'} }
            : grep defined, $r->{headers}{'set-cookie'};
my ($cookie) = grep { /^cvc_session=/ } @cookies;
ok($cookie, 'a cvc_session cookie is set') or diag "Set-Cookie: @cookies";
$cookie //= '';
my %attr = map { my ($k) = /^\s*([^=]+)/; (lc $k => 1) } split /;/, $cookie;
like($cookie, qr/^cvc_session=[^;\s]{32,};/, '... with a long value');
like($cookie, qr/;\s*Path=\/(;|\z)/, '... Path=/');
ok($attr{httponly}, '... HttpOnly');
like($cookie, qr/;\s*SameSite=Strict(;|\z)/i, '... SameSite=Strict');
ok(!$attr{secure}, '... not Secure (cvc_cookie_secure off)');
ok(!$attr{domain}, '... no Domain');

my $again = merchant_login($conv->{id}, $conv->{password});
isnt($again->{token}, $j->{token}, 'a second login: another token');
isnt($again->{csrf_token}, $j->{csrf_token}, '... and another CSRF token');

$r = merchant_login_r($pos->{id}, $pos->{password});
is($r->{status}, 201, 'point of sale login: 201');
is_deeply($r->{json}{account},
          { kind => 'point_of_sale', id => $pos->{id},
            convention => $conv->{id}, name => $pos->{name} },
          '... account: kind point_of_sale, id, convention, name');

# each account has its own password
attempts_left_is(merchant_login_r($pos->{id}, $conv->{password}), 2,
                 "the admin's password for the point of sale");
is(merchant_login_r($pos->{id}, $pos->{password})->{status}, 201,
   '... its own works (and clears the count)');

# ---- wrong passwords ----------------------------------------------------

my $p2 = new_pos($conv);
attempts_left_is(merchant_login_r($p2->{id}, wrong_password()), 2,
                 '1st wrong password');
attempts_left_is(merchant_login_r($p2->{id}, wrong_password()), 1,
                 '2nd wrong password');
is(merchant_login_r($p2->{id}, $p2->{password})->{status}, 201,
   'then the right one: 201');
attempts_left_is(merchant_login_r($p2->{id}, wrong_password()), 2,
                 'a success cleared the count: wrong again, 2 left');
attempts_left_is(merchant_login_r($p2->{id}, wrong_password()), 1,
                 '... then 1 left');
is(merchant_login_r($p2->{id}, $p2->{password})->{status}, 201,
   '2 wrong, 1 right, 2 wrong: not locked');

# counts are per account
my $p3 = new_pos($conv);
attempts_left_is(merchant_login_r($p3->{id}, wrong_password()), 2,
                 'another account: its own count');
attempts_left_is(merchant_login_r($p2->{id}, wrong_password()), 2,
                 '... which did not touch this one');
is(merchant_login_r($p2->{id}, $p2->{password})->{status}, 201, 'reset');

# ---- the 3-strike lockout -------------------------------------------------

my $victim = new_pos($conv);
attempts_left_is(merchant_login_r($victim->{id}, wrong_password()), 2,
                 'victim: 1st wrong');
attempts_left_is(merchant_login_r($victim->{id}, wrong_password()), 1,
                 'victim: 2nd wrong');
$r = merchant_login_r($victim->{id}, wrong_password());
error_ok($r, 423, 'account_locked', 'victim: the 3rd wrong password');
ok(!exists $r->{json}{error}{attempts_left}
   || !$r->{json}{error}{attempts_left}, '... no attempts left');
ok(!session_cookie($r), '... no cookie');

$r = merchant_login_r($victim->{id}, $victim->{password});
error_ok($r, 423, 'account_locked', 'locked: the right password too');
ok(!defined $r->{json}{token}, '... no token');
error_ok(merchant_login_r($victim->{id}, wrong_password()), 423,
         'account_locked', 'locked: another wrong one');
error_ok(merchant_login_r($victim->{id}, $victim->{password}), 423,
         'account_locked', 'locked: still, later');

my $mails = outbox(kind => 'email', template => 'account_locked',
                   recipient => $victim->{email});
is(scalar @$mails, 1, 'one "account_locked" e-mail to the account, '
                      . 'after 5 refused attempts');

# the lock is the account's alone
is(merchant_login_r($conv->{id}, $conv->{password})->{status}, 201,
   'the admin of the same convention is not locked');
is(merchant_login_r($pos->{id}, $pos->{password})->{status}, 201,
   'nor a sibling point of sale');

# an admin locks like a point of sale
my $conv2 = new_convention();
attempts_left_is(merchant_login_r($conv2->{id}, wrong_password()), 2,
                 'admin: 1st wrong');
attempts_left_is(merchant_login_r($conv2->{id}, wrong_password()), 1,
                 'admin: 2nd wrong');
error_ok(merchant_login_r($conv2->{id}, wrong_password()), 423,
         'account_locked', 'admin: 3rd wrong');
error_ok(merchant_login_r($conv2->{id}, $conv2->{password}), 423,
         'account_locked', 'admin locked: the right password too');
$mails = outbox(kind => 'email', template => 'account_locked',
                recipient => $conv2->{email});
is(scalar @$mails, 1, 'one "account_locked" e-mail to the admin');

# ---- unknown and malformed logins -------------------------------------------

my $ghost = unique_digits(6);
for my $i (1 .. 4) {
    attempts_left_is(merchant_login_r($ghost, wrong_password()), 2,
                     "an unknown 6-digit login, attempt $i");
}
my $ghost12 = unique_digits(12);
for my $i (1 .. 3) {
    attempts_left_is(merchant_login_r($ghost12, wrong_password()), 2,
                     "an unknown 12-digit login, attempt $i");
}

for my $bad (['12345', '5 digits'], ['1234567', '7 digits'],
             ['12345678901', '11 digits (a customer)'], ['abcdef', 'letters'],
             ['', 'empty'], [" $conv->{id}", 'a leading space'],
             ['1' x 300, '300 digits'], ['a@example.fr', 'an e-mail'])
{
    $r = merchant_login_r($bad->[0], $conv->{password});
    error_ok($r, 422, 'validation_failed', "a login of $bad->[1]");
    fields_are($r, ['login'], "a login of $bad->[1]");
}

# ---- bad bodies -----------------------------------------------------------

sub login_body {
    my ($body, %h) = @_;
    return call(POST => '/api/v1/merchant/sessions', $body, %h);
}

$r = login_body({ login => 0 + "$conv->{id}", password => $conv->{password} });
error_ok($r, 422, 'validation_failed', 'a login as a number');
fields_are($r, ['login'], 'a login as a number');

$r = login_body({ login => $conv->{id} });
fields_are($r, ['password'], 'no password');
$r = login_body({});
fields_are($r, [qw(login password)], 'an empty object');
$r = login_body({ login => $conv->{id}, password => $conv->{password},
                  remember_me => JSON::PP::true() });
error_ok($r, 422, 'validation_failed', 'an unknown field');
fields_are($r, ['remember_me'], 'an unknown field');
$r = login_body({ login => $conv->{id}, password => 123456789012345 });
fields_are($r, ['password'], 'a password as a number');
$r = login_body({ login => $conv->{id}, password => undef });
fields_are($r, ['password'], 'a null password');
$r = login_body({ login => $conv->{id},
                  password => remember_secret('p' x 129, 'password') });
error_ok($r, 422, 'validation_failed', 'a password of 129 characters');
fields_are($r, ['password'], 'a password of 129 characters');

$r = login_body('{"login": "' . $conv->{id} . '", "password": ',
                'Content-Type' => 'application/json');
error_ok($r, 400, 'invalid_json', 'malformed JSON');
$r = login_body('login=1&password=2',
                'Content-Type' => 'application/x-www-form-urlencoded');
error_ok($r, 415, 'unsupported_media_type', 'a form');
$r = login_body('["' . $conv->{id} . '"]',
                'Content-Type' => 'application/json');
error_ok($r, 422, 'validation_failed', 'an array');
$r = call(GET => '/api/v1/merchant/sessions');
error_ok($r, 405, 'method_not_allowed', 'GET on the login');

# bad requests are no guesses: they don't count towards the lock
my $p4 = new_pos($conv);
for my $i (1 .. 3) {
    login_body({ login => $p4->{id}, password => 42 });
    login_body({ login => $p4->{id} });
    login_body('{"login": "' . $p4->{id} . '", "password": "x',
               'Content-Type' => 'application/json');
}
is(merchant_login_r($p4->{id}, $p4->{password})->{status}, 201,
   '9 bad requests: not locked');
attempts_left_is(merchant_login_r($p4->{id}, wrong_password()), 2,
                 '... and the count is untouched');

done_testing;
