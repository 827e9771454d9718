# The customer pays or refuses (POST /api/v1/customer/payment-requests/
# {id}/pay and /refuse): validated at once without a delay, to_validate
# with the deadline of D + N business days (Paris days, holidays, summer
# and winter), the wallet debited at once, wrong payment codes and their
# lock, insufficient funds, partial payments, another customer's request,
# a second payment, a payment after pay_by, refusals.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('192.0.2.230');

my $conv = new_convention(name => 'Hôtel Belle Vue');
my $pos = new_pos($conv, name => 'Réception Belle Vue');
my $ben = new_beneficiary(balance => 500_000);

# at($time): the test clock there, and fresh sessions (15 min idle) of the
# point of sale and the customer $who ($ben unless a section has its own).
# Moving the clock lets the timers expire earlier pre-reservations (and
# re-credit their customers): a section that moves it has a customer of
# its own.
my ($m, $c, $now);
my $who = $ben;
keep_logged_in(\$m => $pos, \$c => \$who);
sub req { new_request($m->{token}, customer => $who->{id}, @_) }
sub pay {
    my ($id, %more) = @_;
    pay_request($c->{token}, $id, $who->{payment_code}, %more);
}
sub refuse {
    my ($token, $id) = @_;
    api_as($token, POST => "/api/v1/customer/payment-requests/$id/refuse");
}
sub balance { customer_balance($c->{token}) }
sub merchant_view { get_request($m->{token}, $_[0])->{json} // {} }
sub near {
    my ($time, $epoch, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(is_utc_time($time), "$name: RFC 3339 UTC") or return;
    cmp_ok(abs(epoch_of($time) - $epoch), '<=', 60, "$name: now ($time)");
}
sub same_time {
    my ($t1, $t2, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    cmp_ok(abs((epoch_of($t1 // '') // -1e9) - (epoch_of($t2 // '') // 1e9)),
           '<', 1, $name);
}

# ---- paid without a delay: validated ------------------------------------------------------

$now = at('2026-06-24T08:00:00Z');     # Wednesday, 10:00 in Paris
my $bal = balance();
is($bal, 500_000, 'the balance before');
my $p = req(amount => 4000);
my $r = pay($p->{id});
is($r->{status}, 200, 'pay a request without delay: 200');
my $j = $r->{json} // {};
is_deeply([grep { !exists $j->{$_} } pr_members()], [],
          "... the request, with every member of the contract");
is($j->{id}, $p->{id}, '... that request');
is($j->{status}, 'validated', '... validated');
is($j->{amount_received}, 4000, '... amount_received 4000');
like($r->{raw}, qr/"amount_received"\s*:\s*4000\b/, '... a JSON number');
is($j->{amount_refunded}, 0, '... amount_refunded 0');
near($j->{paid_at}, $now, '... paid_at');
same_time($j->{validated_at}, $j->{paid_at}, '... validated_at = paid_at');
same_time($j->{last_action_at}, $j->{paid_at}, '... last action: the payment');
ok(exists $j->{validation_deadline} && !defined $j->{validation_deadline},
   '... no validation_deadline');
is(balance(), $bal - 4000, 'the wallet is debited at once');
$bal -= 4000;
is_deeply(merchant_view($p->{id})->{status}, 'validated',
          'the merchant sees it validated');

# ---- with a delay: to_validate, deadline D + N business days ---------------------------------

for my $case (
    ['2026-06-24T08:00:00Z', 2, '2026-06-26T21:59:59Z', 'Wednesday + 2'],
    ['2026-06-26T08:00:00Z', 1, '2026-06-29T21:59:59Z', 'Friday + 1: Monday'],
    ['2026-06-27T08:00:00Z', 1, '2026-06-29T21:59:59Z',
     'Saturday + 1: Monday'],
    ['2026-06-24T08:00:00Z', 6, '2026-07-02T21:59:59Z', 'Wednesday + 6'],
    ['2026-07-13T08:00:00Z', 1, '2026-07-15T21:59:59Z',
     'Monday 13 July + 1: not 14 July'],
    ['2026-07-10T08:00:00Z', 2, '2026-07-15T21:59:59Z',
     'Friday 10 July + 2: Monday, (14 July), Wednesday'],
    ['2026-05-13T08:00:00Z', 1, '2026-05-15T21:59:59Z',
     'Wednesday 13 May + 1: not Ascension Thursday'],
    ['2026-05-22T08:00:00Z', 1, '2026-05-26T21:59:59Z',
     'Friday 22 May + 1: not Whit Monday'],
    ['2026-05-07T08:00:00Z', 1, '2026-05-11T21:59:59Z',
     'Thursday 7 May + 1: not 8 May'],
    ['2026-12-23T09:00:00Z', 2, '2026-12-28T22:59:59Z',
     'Wednesday 23 December + 2: not Christmas, in winter time'],
    ['2026-10-23T08:00:00Z', 1, '2026-10-26T22:59:59Z',
     'Friday 23 October + 1: Monday, after summer time'],
    ['2026-06-24T21:30:00Z', 1, '2026-06-25T21:59:59Z',
     'Wednesday 23:30 in Paris + 1: Thursday'],
    ['2026-06-24T22:30:00Z', 1, '2026-06-26T21:59:59Z',
     'Thursday 00:30 in Paris (still Wednesday in UTC) + 1: Friday'])
{
    my ($when, $n, $deadline, $what) = @$case;
    $who = new_beneficiary(balance => 10_000);
    $now = at($when);
    my $before = balance();
    $p = req(amount => 1000 + $n, validation_delay_days => $n);
    $r = pay($p->{id});
    is($r->{status}, 200, "paid at $when, a $n-day delay: 200");
    $j = $r->{json} // {};
    is($j->{status}, 'to_validate', '... to_validate');
    is($j->{type}, 'pre_reservation', '... a pre-reservation');
    is($j->{validation_deadline}, $deadline, "... deadline $deadline ($what)");
    is($j->{amount_received}, 1000 + $n, '... amount_received');
    near($j->{paid_at}, $now, '... paid_at');
    ok(exists $j->{validated_at} && !defined $j->{validated_at},
       '... not validated yet');
    is(balance(), $before - 1000 - $n, '... the wallet is debited at once');
    is(merchant_view($p->{id})->{validation_deadline}, $deadline,
       '... the merchant sees the same deadline');
}

# ---- wrong payment codes and the lock ---------------------------------------------------------

sub code_error {
    my ($r, $n, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    error_ok($r, 403, 'invalid_payment_code', $name);
    is(eval { $r->{json}{error}{attempts_left} }, $n, "$name: attempts_left $n");
    like($r->{raw}, qr/"attempts_left"\s*:\s*$n\b/, "$name: a JSON number");
}

$who = $ben;
$now = at('2026-06-24T08:00:00Z');
$bal = balance();
my $b3 = new_beneficiary(balance => 10_000);
my $c3 = customer_login($b3->{id}, $b3->{password});
my $p3 = new_request($m->{token}, customer => $b3->{id}, amount => 2000);
my $p3b = new_request($m->{token}, customer => $b3->{id}, amount => 1000);
code_error(pay_request($c3->{token}, $p3->{id}, wrong_code($b3->{payment_code})),
           2, '1st wrong code');
code_error(pay_request($c3->{token}, $p3b->{id}, wrong_code($b3->{payment_code})),
           1, '2nd wrong code (on another request: one count per customer)');
$r = pay_request($c3->{token}, $p3->{id}, wrong_code($b3->{payment_code}));
error_ok($r, 423, 'payment_code_locked', '3rd wrong code');
$r = pay_request($c3->{token}, $p3->{id}, $b3->{payment_code});
error_ok($r, 423, 'payment_code_locked', 'locked: the right code too');
$r = pay_request($c3->{token}, $p3b->{id}, $b3->{payment_code});
error_ok($r, 423, 'payment_code_locked', '... on any request');
is(customer_balance($c3->{token}), 10_000, 'nothing was debited');
$j = merchant_view($p3->{id});
is($j->{status}, 'awaiting_payment', 'the request still awaits payment');
ok(exists $j->{amount_received} && !defined $j->{amount_received},
   '... with nothing received');
is(customer_login_r($b3->{id}, $b3->{password})->{status}, 201,
   'the locked code does not lock the account');

my $new_code = wrong_code($b3->{payment_code});
remember_secret($new_code, 'payment_code');
$r = api_as($c3->{token}, PUT => '/api/v1/customer/payment-code',
            { password => $b3->{password}, payment_code => $new_code });
is($r->{status}, 204, 'the customer sets a new code: 204');
code_error(pay_request($c3->{token}, $p3->{id}, $b3->{payment_code}), 2,
           'unlocked: the old code is now a wrong one');
$r = pay_request($c3->{token}, $p3->{id}, $new_code);
is($r->{status}, 200, 'the new code pays: 200');
is($r->{json}{status}, 'validated', '... validated');
is(customer_balance($c3->{token}), 8_000, '... and debited');

# a right code clears the count
code_error(pay_request($c3->{token}, $p3b->{id}, wrong_code($new_code)), 2,
           'after a payment: a wrong code has 2 left');
code_error(pay_request($c3->{token}, $p3b->{id}, wrong_code($new_code)), 1,
           '... then 1');
is(pay_request($c3->{token}, $p3b->{id}, $new_code)->{status}, 200,
   '... the right one pays');
my $p3c = new_request($m->{token}, customer => $b3->{id}, amount => 100);
code_error(pay_request($c3->{token}, $p3c->{id}, wrong_code($new_code)), 2,
           '... and cleared the count');

# the count is the customer's own
code_error(pay(req(amount => 100)->{id}, payment_code => wrong_code($ben->{payment_code})),
           2, "another customer's wrong code: its own count");
is(pay(req(amount => 100)->{id})->{status}, 200, '... (cleared)');
$bal -= 100;

# ---- not enough money: 402, nothing changes -----------------------------------------------------

my $b7 = new_beneficiary(balance => 1000);
my $c7 = customer_login($b7->{id}, $b7->{password});
my $p7 = new_request($m->{token}, customer => $b7->{id}, amount => 1500);
$r = pay_request($c7->{token}, $p7->{id}, $b7->{payment_code});
error_ok($r, 402, 'insufficient_funds', '1500 cents with 1000 in the wallet');
is(customer_balance($c7->{token}), 1000, '... the balance is untouched');
$j = get_request($m->{token}, $p7->{id})->{json} // {};
is($j->{status}, 'awaiting_payment', '... the request still awaits payment');
ok(exists $j->{amount_received} && !defined $j->{amount_received},
   '... nothing received');
is_deeply([map { $_->{type} } @{ $j->{events} // [] }], ['created'],
          '... no event but its creation');
my $p7d = new_request($m->{token}, customer => $b7->{id}, amount => 1001,
                      validation_delay_days => 3);
error_ok(pay_request($c7->{token}, $p7d->{id}, $b7->{payment_code}), 402,
         'insufficient_funds', 'a pre-reservation of 1001 cents with 1000');
is(ops(POST => "/ops/v1/beneficiaries/$b7->{id}/credits", { amount => 500 },
       xff())->{status}, 201, 'a credit of 500');
$r = pay_request($c7->{token}, $p7->{id}, $b7->{payment_code});
is($r->{status}, 200, 'now the 1500 can be paid: 200');
is(customer_balance($c7->{token}), 0, '... down to 0');
error_ok(pay_request($c7->{token}, $p7d->{id}, $b7->{payment_code}), 402,
         'insufficient_funds', 'with 0 in the wallet');

# ---- partial payments ------------------------------------------------------------------------------

$p = req(amount => 4000);
for my $case ([3000, 'less'], [4001, 'more'], [0, '0'], [-1, 'negative'],
              ['4000', 'a string'], [39.5, 'a fraction'])
{
    $r = pay($p->{id}, amount => $case->[0]);
    error_ok($r, 422, 'validation_failed',
             "no allow_partial, an amount $case->[1]");
    fields_are($r, ['amount'], "no allow_partial, an amount $case->[1]");
}
is(balance(), $bal, 'nothing was debited');
$r = pay($p->{id}, amount => 4000);
is($r->{status}, 200, 'the very amount, given: 200');
is($r->{json}{amount_received}, 4000, '... received');
$bal -= 4000;

$p = req(amount => 4000, allow_partial => JSON::PP::true);
for my $case ([4001, 'more'], [0, '0'], ['2500', 'a string']) {
    $r = pay($p->{id}, amount => $case->[0]);
    error_ok($r, 422, 'validation_failed', "allow_partial, an amount $case->[1]");
    fields_are($r, ['amount'], "allow_partial, an amount $case->[1]");
}
$r = pay($p->{id}, amount => 2500);
is($r->{status}, 200, 'allow_partial: 2500 of 4000: 200');
is($r->{json}{status}, 'validated', '... validated');
is($r->{json}{amount}, 4000, '... amount still 4000');
is($r->{json}{amount_received}, 2500, '... amount_received 2500');
$bal -= 2500;
is(balance(), $bal, '... 2500 debited');
$p = req(amount => 4000, allow_partial => JSON::PP::true,
         validation_delay_days => 1);
$r = pay($p->{id}, amount => 1);
is($r->{json}{status}, 'to_validate', 'allow_partial, 1 cent, with a delay: '
                                      . 'to_validate');
is($r->{json}{amount_received}, 1, '... amount_received 1');
$bal -= 1;
$p = req(amount => 3000, allow_partial => JSON::PP::true);
$r = pay($p->{id});
is($r->{json}{amount_received}, 3000, 'allow_partial, no amount: the whole');
$bal -= 3000;
is(balance(), $bal, 'the wallet follows');

# ---- bad bodies --------------------------------------------------------------------------------------

$p = req(amount => 500);
my $path = "/api/v1/customer/payment-requests/$p->{id}/pay";
$r = api_as($c->{token}, POST => $path, {});
error_ok($r, 422, 'validation_failed', 'no payment_code');
fields_are($r, ['payment_code'], 'no payment_code');
{
    my $copy = $ben->{payment_code};
    $r = api_as($c->{token}, POST => $path, { payment_code => 0 + $copy });
    error_ok($r, 422, 'validation_failed', 'payment_code as a number');
    fields_are($r, ['payment_code'], 'payment_code as a number');
}
$r = pay($p->{id}, tip => 100);
error_ok($r, 422, 'validation_failed', 'an unknown member');
fields_are($r, ['tip'], 'an unknown member');
$r = api_as($c->{token}, POST => $path, '{"payment_code": ',
            'Content-Type' => 'application/json');
error_ok($r, 400, 'invalid_json', 'malformed JSON');
is(merchant_view($p->{id})->{status}, 'awaiting_payment',
   'the request still awaits payment');
$r = api(POST => $path, { payment_code => $ben->{payment_code} }, xff(),
         Cookie => 'cvc_customer_session=' . ($c->{_cookie} // ''));
error_ok($r, 403, 'csrf_failed', 'the session cookie without X-CSRF-Token');
$r = api(POST => $path, { payment_code => $ben->{payment_code} }, xff(),
         Cookie => 'cvc_customer_session=' . ($c->{_cookie} // ''),
         'X-CSRF-Token' => $c->{csrf_token});
is($r->{status}, 200, 'the session cookie with X-CSRF-Token: 200');
$bal -= 500;
error_ok(call(POST => $path, { payment_code => $ben->{payment_code} }), 401,
         'unauthenticated', 'no session');
$r = api_as($m->{token}, POST => $path, { payment_code => $ben->{payment_code} });
ok($r->{status} == 401 || $r->{status} == 403,
   "a merchant's session: 401 or 403 (got $r->{status})");

# ---- another customer's request, an unknown one ----------------------------------------------

my $theirs = new_request($m->{token}, customer => $b3->{id}, amount => 700);
$r = pay($theirs->{id});
error_ok($r, 404, 'not_found', "paying another customer's request");
error_ok(refuse($c->{token}, $theirs->{id}), 404, 'not_found',
         "refusing another customer's request");
is(merchant_view($theirs->{id})->{status}, 'awaiting_payment',
   '... which still awaits payment');
is(balance(), $bal, '... and nothing was debited');
error_ok(pay('pr_' . 'f' x 24), 404, 'not_found', 'paying an unknown request');
error_ok(pay('xyz'), 404, 'not_found', 'paying a malformed id');
code_error(pay_request($c->{token}, req(amount => 100)->{id},
                       wrong_code($ben->{payment_code})), 2,
           "(the 404s didn't count as wrong codes)");

# ---- a payment that is not possible: 409 invalid_state ------------------------------------------

$p = req(amount => 600);
is(pay($p->{id})->{status}, 200, 'a payment');
$bal -= 600;
error_ok(pay($p->{id}), 409, 'invalid_state', 'paying it again');
is(balance(), $bal, '... debited once');
$p = req(amount => 600, validation_delay_days => 2);
is(pay($p->{id})->{json}{status}, 'to_validate', 'a pre-reservation paid');
$bal -= 600;
error_ok(pay($p->{id}), 409, 'invalid_state', 'paying it again (to_validate)');
error_ok(refuse($c->{token}, $p->{id}), 409, 'invalid_state',
         'refusing it once paid (to_validate)');
is(balance(), $bal, '... debited once');
$p = req(amount => 600);
is(api_as($m->{token}, POST => "/api/v1/payment-requests/$p->{id}/cancel")
       ->{status}, 200, 'a request cancelled by the merchant');
error_ok(pay($p->{id}), 409, 'invalid_state', 'paying it');
error_ok(refuse($c->{token}, $p->{id}), 409, 'invalid_state', 'refusing it');
is(balance(), $bal, '... nothing debited');

# ---- refusals ----------------------------------------------------------------------------------------

$p = req(amount => 800);
$r = refuse($c->{token}, $p->{id});
is($r->{status}, 200, 'refuse: 200');
$j = $r->{json} // {};
is($j->{id}, $p->{id}, '... the request');
is($j->{status}, 'refused', '... refused');
near($j->{refused_at}, $now, '... refused_at');
same_time($j->{last_action_at}, $j->{refused_at}, '... the last action');
ok(exists $j->{amount_received} && !defined $j->{amount_received},
   '... nothing received');
is(balance(), $bal, '... nothing debited');
is(merchant_view($p->{id})->{status}, 'refused', 'the merchant sees it refused');
error_ok(refuse($c->{token}, $p->{id}), 409, 'invalid_state', 'refusing twice');
error_ok(pay($p->{id}), 409, 'invalid_state', 'paying a refused request');
$p = req(amount => 800);
pay($p->{id});
$bal -= 800;
error_ok(refuse($c->{token}, $p->{id}), 409, 'invalid_state',
         'refusing a paid (validated) request');
is(merchant_view($p->{id})->{status}, 'validated', '... still validated');
is(balance(), $bal, '... and still paid');
error_ok(refuse($c->{token}, 'pr_' . 'e' x 24), 404, 'not_found',
         'refusing an unknown request');

# ---- after pay_by: 409 -------------------------------------------------------------------------

$who = new_beneficiary(balance => 10_000);
at('2026-09-09T08:00:00Z');          # Wednesday, 10:00 in Paris
$bal = balance();
my $late = req(amount => 900);
my $deferred = req(amount => 900, mode => 'deferred', pay_by => '2026-09-10');
my $deferred2 = req(amount => 900, mode => 'deferred', pay_by => '2026-09-10');
my $in_time = req(amount => 100);
at('2026-09-09T08:14:00Z');
is(pay($in_time->{id})->{status}, 200,
   'an immediate request, 14 minutes after its creation: 200');
$bal -= 100;
at('2026-09-09T08:16:30Z');
error_ok(pay($late->{id}), 409, 'invalid_state',
         'an immediate request, 16 minutes after its creation');
is(balance(), $bal, '... nothing debited');
at('2026-09-10T21:58:00Z');          # 23:58 in Paris on pay_by's day
$r = pay($deferred->{id});
is($r->{status}, 200, 'a deferred request at 23:58 on its pay_by day: 200');
$bal -= 900;
at('2026-09-10T22:00:30Z');          # 00:00:30 in Paris the day after
error_ok(pay($deferred2->{id}), 409, 'invalid_state',
         'a deferred request, 30 seconds after the end of its pay_by day');
is(balance(), $bal, '... nothing more debited');

is(reset_clock(), 204, 'clock back to real time');

done_testing;
