# Customers: login by id or e-mail (any case), me and its balance after
# ops credits, logout, the lockout shared by login and the payment-code
# change, ops unlock, and sessions that don't cross between kinds.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.140');
reset_clock();

my $email = unique_email('t140');
(my $mixed = $email) =~ s/^(\w)/\U$1/;
my $ben = new_beneficiary(email => $mixed, balance => 12_345);
my $other = new_beneficiary();

sub cme { api_as($_[0], GET => '/api/v1/customer/me') }

sub set_code {
    my ($token, $password, $code, %h) = @_;
    remember_secret($password, 'password');
    remember_secret($code, 'payment_code') unless ref $code;
    return api_as($token, PUT => '/api/v1/customer/payment-code',
                  { password => $password, payment_code => $code }, %h);
}

sub attempts_left_is {
    my ($r, $status, $code, $n, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    error_ok($r, $status, $code, $name);
    is(eval { $r->{json}{error}{attempts_left} }, $n,
       "$name: attempts_left $n");
}

# ---- login ---------------------------------------------------------------------

my $r = customer_login_r($ben->{id}, $ben->{password});
is($r->{status}, 201, 'customer login by id: 201');
my $j = $r->{json} // {};
is_deeply([sort keys %$j], [qw(csrf_token customer expires_at token)],
          '... {token, expires_at, csrf_token, customer}');
is_deeply([sort keys %{ $j->{customer} // {} }], [qw(email id)],
          '... customer: {id, email}');
is($j->{customer}{id}, $ben->{id}, '... its id');
is(lc($j->{customer}{email} // ''), $email, '... its e-mail');
ok(is_utc_time($j->{expires_at}), '... expires_at in RFC 3339 UTC');
cmp_ok(abs((epoch_of($j->{expires_at} // '') // 0) - (time + 900)), '<=', 10,
       '... 15 minutes from now');
ok(session_cookie($r), '... and the session cookie');
my $s = { %$j, _cookie => session_cookie($r) };

for my $login ($email, uc $email, $mixed) {
    $r = customer_login_r($login, $ben->{password});
    is($r->{status}, 201, "login by e-mail as $login: 201");
    is($r->{json}{customer}{id}, $ben->{id}, '... the same customer');
}

# ---- me and credits ------------------------------------------------------------

$r = cme($s->{token});
is($r->{status}, 200, 'GET /customer/me: 200');
is_deeply([sort keys %{ $r->{json} // {} }], [qw(balance currency email id)],
          '... {id, email, balance, currency}');
is($r->{json}{id}, $ben->{id}, '... id');
is(lc($r->{json}{email} // ''), $email, '... email');
is($r->{json}{balance}, 12_345, '... the balance given at creation');
like($r->{raw}, qr/"balance"\s*:\s*12345\b/, '... as a JSON number');
is($r->{json}{currency}, 'EUR', '... in EUR');

$r = ops(POST => "/ops/v1/beneficiaries/$ben->{id}/credits",
         { amount => 500 }, xff());
is($r->{status}, 201, 'an ops credit: 201');
is_deeply($r->{json}, { balance => 12_845 }, '... {"balance": 12845}');
is(cme($s->{token})->{json}{balance}, 12_845, 'me shows the new balance');
is(cme(customer_login($other->{id}, $other->{password})->{token})
       ->{json}{balance}, 0, "another customer's balance: 0, untouched");

# ten credits at once: none lost
my @bal = parallel(10, sub {
    my $r = ops(POST => "/ops/v1/beneficiaries/$other->{id}/credits",
                { amount => 100 }, xff());
    return { status => $r->{status}, balance => eval { $r->{json}{balance} } };
});
is(scalar(grep { $_->{status} == 201 } @bal), 10, 'ten credits at once: 201');
is_deeply([sort { $a <=> $b } map { $_->{balance} // 0 } @bal],
          [map { $_ * 100 } 1 .. 10],
          '... each saw the one before it: 100, 200, ... 1000');
is(cme(customer_login($other->{id}, $other->{password})->{token})
       ->{json}{balance}, 1000, '... and the balance is 1000');

error_ok(call(GET => '/api/v1/customer/me'), 401, 'unauthenticated',
         'me without a session');
error_ok(cme('x' x 43), 401, 'unauthenticated', 'me with a garbage token');

# ---- wrong and malformed logins ---------------------------------------------------

attempts_left_is(customer_login_r(unique_email('t140nobody'),
                                  wrong_password()),
                 401, 'invalid_credentials', 2, 'an unknown e-mail');
attempts_left_is(customer_login_r(unique_digits(11), wrong_password()),
                 401, 'invalid_credentials', 2, 'an unknown id');
for my $bad (['12345', '5 digits'], ['123456', 'a merchant login'],
             ['123456789012', '12 digits'], ['not-an-e-mail', 'words'],
             ['', 'empty'])
{
    $r = customer_login_r($bad->[0], $ben->{password});
    error_ok($r, 422, 'validation_failed', "a customer login of $bad->[1]");
    fields_are($r, ['login'], "a customer login of $bad->[1]");
}
$r = call(POST => '/api/v1/customer/sessions',
          { login => 0 + "$ben->{id}", password => $ben->{password} });
fields_are($r, ['login'], 'a login as a number');
$r = call(POST => '/api/v1/customer/sessions', { login => $ben->{id},
          password => $ben->{password}, device => 'phone' });
fields_are($r, ['device'], 'an unknown field');
$r = call(POST => '/api/v1/customer/sessions', {});
fields_are($r, [qw(login password)], 'an empty object');
$r = call(POST => '/api/v1/customer/sessions', '{"login"',
          'Content-Type' => 'application/json');
error_ok($r, 400, 'invalid_json', 'malformed JSON');

# ---- payment code -------------------------------------------------------------------

my $c1 = customer_login($ben->{id}, $ben->{password});
$r = set_code($c1->{token}, $ben->{password}, '654321');
is($r->{status}, 204, 'PUT /customer/payment-code: 204');
is($r->{raw}, '', '... no body');

for my $bad (['12345', '5 digits'], ['1234567', '7 digits'],
             ['12a456', 'a letter'], [654321, 'a number'])
{
    $r = set_code($c1->{token}, $ben->{password}, $bad->[0]);
    error_ok($r, 422, 'validation_failed', "a payment code of $bad->[1]");
    fields_are($r, ['payment_code'], "a payment code of $bad->[1]");
}
$r = api_as($c1->{token}, PUT => '/api/v1/customer/payment-code',
            { payment_code => '111222' });
fields_are($r, ['password'], 'no password');
$r = api_as($c1->{token}, PUT => '/api/v1/customer/payment-code',
            { password => $ben->{password}, payment_code => '111222',
              old_code => '654321' });
fields_are($r, ['old_code'], 'an unknown field');
error_ok(call(PUT => '/api/v1/customer/payment-code',
              { password => $ben->{password}, payment_code => '111222' }),
         401, 'unauthenticated', 'without a session');

# the cookie needs its CSRF token here too
$r = call(PUT => '/api/v1/customer/payment-code',
          { password => $ben->{password}, payment_code => '111222' },
          Cookie => "cvc_customer_session=" . ($c1->{_cookie} // ''));
error_ok($r, 403, 'csrf_failed', 'cookie without X-CSRF-Token');
$r = call(PUT => '/api/v1/customer/payment-code',
          { password => $ben->{password}, payment_code => '111222' },
          Cookie => "cvc_customer_session=" . ($c1->{_cookie} // ''),
          'X-CSRF-Token' => $c1->{csrf_token});
is($r->{status}, 204, 'cookie with its X-CSRF-Token: 204');

# wrong passwords: one count for login and the payment code
attempts_left_is(set_code($c1->{token}, wrong_password(), '333444'),
                 403, 'forbidden', 2, 'payment code, wrong password');
attempts_left_is(customer_login_r($ben->{id}, wrong_password()),
                 401, 'invalid_credentials', 1,
                 'then a wrong login: the same count');
$r = set_code($c1->{token}, wrong_password(), '333444');
error_ok($r, 423, 'account_locked', 'the 3rd wrong password: locked');
error_ok(customer_login_r($ben->{id}, $ben->{password}), 423,
         'account_locked', 'locked: the right password too');
error_ok(customer_login_r($email, $ben->{password}), 423,
         'account_locked', 'locked: by e-mail too');
is(scalar @{ psql_json("select id from cvc.outbox where kind = 'email' "
                       . "and template = 'account_locked' and lower(recipient) "
                       . '= ' . sql_quote($email)) }, 1,
   'one "account_locked" e-mail to the customer');
is(customer_login_r($other->{id}, $other->{password})->{status}, 201,
   'another customer is not locked');

$r = ops(POST => "/ops/v1/beneficiaries/$ben->{id}/unlock", undef, xff());
is($r->{status}, 204, 'ops unlock: 204');
my $c2 = customer_login_r($ben->{id}, $ben->{password});
is($c2->{status}, 201, 'unlocked: the customer logs in');
attempts_left_is(customer_login_r($ben->{id}, wrong_password()),
                 401, 'invalid_credentials', 2, '... with a fresh count');

# the lock through logins alone
my $b2 = new_beneficiary();
attempts_left_is(customer_login_r($b2->{email}, wrong_password()),
                 401, 'invalid_credentials', 2, '1st wrong login');
attempts_left_is(customer_login_r($b2->{id}, wrong_password()),
                 401, 'invalid_credentials', 1, '2nd wrong login');
error_ok(customer_login_r($b2->{id}, wrong_password()), 423,
         'account_locked', '3rd wrong login');
redis_cli('flushall');
error_ok(customer_login_r($b2->{id}, $b2->{password}), 423,
         'account_locked', 'still locked after a Redis flush');
is(ops(POST => "/ops/v1/beneficiaries/$b2->{id}/unlock", undef,
       xff())->{status}, 204, 'ops unlock');
is(customer_login_r($b2->{id}, $b2->{password})->{status}, 201, 'open again');

# ---- logout ------------------------------------------------------------------------

my $b3 = new_beneficiary();
my $c3 = customer_login($b3->{id}, $b3->{password});
my $c4 = customer_login($b3->{id}, $b3->{password});
$r = api_as($c3->{token}, DELETE => '/api/v1/customer/sessions/current');
is($r->{status}, 204, 'customer logout: 204');
error_ok(cme($c3->{token}), 401, 'unauthenticated', 'its token after logout');
is(cme($c4->{token})->{status}, 200, 'the other session lives');
error_ok(api_as($c3->{token}, DELETE => '/api/v1/customer/sessions/current'),
         401, 'unauthenticated', 'logout twice');

# ---- idle and maximum life, as merchants -------------------------------------------

my $t0 = epoch_of('2026-06-24T09:33:00Z');
set_clock(utc_time($t0));
my $i1 = customer_login($b3->{id}, $b3->{password});
my $i2 = customer_login($b3->{id}, $b3->{password});
set_clock(utc_time($t0 + 14 * 60));
is(cme($i1->{token})->{status}, 200, 'customer session used at +14 min');
set_clock(utc_time($t0 + 16 * 60));
error_ok(cme($i2->{token}), 401, 'unauthenticated',
         'customer session idle 16 minutes: gone');
is(cme($i1->{token})->{status}, 200, '... the one used at +14 min lives');
my @dead;
for my $k (2 .. 51) {
    set_clock(utc_time($t0 + $k * 14 * 60));
    my $st = cme($i1->{token})->{status};
    push @dead, "+${\ ($k * 14)} min: $st" if $st != 200;
}
ok(!@dead, 'used every 14 minutes: alive until +11 h 54 min') or diag "@dead";
set_clock(utc_time($t0 + 12 * 3600 + 60));
error_ok(cme($i1->{token}), 401, 'unauthenticated',
         'at +12 h 01 min: gone');
is(reset_clock(), 204, 'clock back to real time');

# ---- kinds don't cross --------------------------------------------------------------

my $conv = new_convention();
my $pos = new_pos($conv);
my $m = merchant_login($conv->{id}, $conv->{password});

sub refused {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok($r->{status} == 401 || $r->{status} == 403,
       "$name: 401 or 403 (got $r->{status})");
    like(eval { $r->{json}{error}{code} } // '',
         qr/^(unauthenticated|forbidden)\z/, "$name: unauthenticated or "
                                              . 'forbidden');
}

refused(cme($m->{token}), 'a merchant token on /customer/me');
refused(set_code($m->{token}, $conv->{password}, '121212'),
        'a merchant token on the payment code');
refused(api_as($m->{token}, DELETE => '/api/v1/customer/sessions/current'),
        'a merchant token on the customer logout');
is(api_as($m->{token}, GET => '/api/v1/merchant/me')->{status}, 200,
   '... which did not end the merchant session');
refused(api_as($c4->{token}, GET => '/api/v1/merchant/me'),
        'a customer token on /merchant/me');
refused(api_as($c4->{token}, GET => '/api/v1/points-of-sale'),
        'a customer token on the points of sale');
refused(api_as($c4->{token}, POST => "/api/v1/points-of-sale/$pos->{id}/api-keys",
               { name => 'customer key' }),
        'a customer token creating an API key');
refused(api_as($c4->{token}, DELETE => '/api/v1/merchant/sessions/current'),
        'a customer token on the merchant logout');
is(cme($c4->{token})->{status}, 200, '... which did not end the customer one');
refused(call(GET => '/api/v1/merchant/me', undef,
             Cookie => "cvc_customer_session=" . ($c4->{_cookie} // '')),
        "a customer's cookie on /merchant/me");

# a customer login is no merchant login and the other way round
is(merchant_login_r($b3->{id}, $b3->{password})->{status}, 422,
   'a customer id on the merchant login: malformed');
is(customer_login_r($conv->{id}, $conv->{password})->{status}, 422,
   'a convention id on the customer login: malformed');

$r = api_as($c4->{token}, GET => '/api/v1/business-days?from=2026-06-24&add=2');
is($r->{status}, 200, 'a customer session may call business-days');
is_deeply($r->{json}, { date => '2026-06-26' }, '... {"date": "2026-06-26"}');

done_testing;
