# The merchant confirms or cancels (POST /api/v1/payment-requests/{id}/
# confirm and /cancel): to_validate -> validated, awaiting_payment ->
# cancelled, to_validate -> cancelled with the customer re-credited at
# once; every other transition 409; another merchant's request 404; after
# the validation deadline 409, and what the deadline itself does.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('192.0.2.240');
reset_clock();

my $conv = new_convention(name => 'Base nautique');
my $pos1 = new_pos($conv, name => 'Location de kayaks',
                   category => 'sports_leisure');
my $pos2 = new_pos($conv, name => 'École de voile',
                   category => 'sports_leisure');
my $oconv = new_convention();
my $opos = new_pos($oconv);
my $ben = new_beneficiary(balance => 100_000);

my $admin = merchant_login($conv->{id}, $conv->{password});
my $m1 = merchant_login($pos1->{id}, $pos1->{password});
my $m2 = merchant_login($pos2->{id}, $pos2->{password});
my $oadmin = merchant_login($oconv->{id}, $oconv->{password});
my $om = merchant_login($opos->{id}, $opos->{password});
my ($key1) = new_api_key($admin->{token}, $pos1->{id});
my ($key2) = new_api_key($admin->{token}, $pos2->{id});
my $c = customer_login($ben->{id}, $ben->{password});

sub act {
    my ($token, $what, $id) = @_;
    return api_as($token, POST => "/api/v1/payment-requests/$id/$what");
}
sub confirm { act($_[0], confirm => $_[1]) }
sub cancel { act($_[0], cancel => $_[1]) }
sub balance { customer_balance($c->{token}) }
sub req { new_request($m1->{token}, customer => $ben->{id}, @_) }
sub paid {
    my $p = req(@_);
    my $r = pay_request($c->{token}, $p->{id}, $ben->{payment_code});
    die "pay: $r->{status} $r->{raw}" unless $r->{status} == 200;
    return $r->{json};
}
sub status_of { get_request($admin->{token}, $_[0])->{json}{status} // 'none' }
sub near_now {
    my ($time, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(is_utc_time($time), "$name: RFC 3339 UTC");
    cmp_ok(abs((epoch_of($time // '') // 0) - time), '<=', 60, "$name: now");
}

# ---- to_validate -> confirm -> validated -------------------------------------------------------

my $bal = balance();
my $p = paid(amount => 4000, validation_delay_days => 2);
is($p->{status}, 'to_validate', 'a pre-reservation paid: to_validate');
is(balance(), $bal - 4000, '... the customer debited');
$bal -= 4000;
sleep 1;
my $r = confirm($m1->{token}, $p->{id});
is($r->{status}, 200, 'confirm: 200');
my $j = $r->{json} // {};
is_deeply([grep { !exists $j->{$_} } pr_members()], [],
          "... the request, with every member of the contract");
is($j->{id}, $p->{id}, '... that request');
is($j->{status}, 'validated', '... validated');
near_now($j->{validated_at}, '... validated_at');
is($j->{last_action_at}, $j->{validated_at}, '... the last action');
isnt($j->{validated_at}, $p->{paid_at}, '... (not the payment)');
is($j->{paid_at}, $p->{paid_at}, '... paid_at as it was');
is($j->{amount_received}, 4000, '... amount_received 4000');
is($j->{amount_refunded}, 0, '... nothing refunded');
is(balance(), $bal, '... the customer stays debited');
error_ok(confirm($m1->{token}, $p->{id}), 409, 'invalid_state', 'confirm twice');
error_ok(cancel($m1->{token}, $p->{id}), 409, 'invalid_state',
         'cancel a validated request');
is(status_of($p->{id}), 'validated', '... still validated');
is(balance(), $bal, '... nothing re-credited');

# ---- awaiting_payment -> cancel -> cancelled ------------------------------------------------------

$p = req(amount => 3000, validation_delay_days => 1);
error_ok(confirm($m1->{token}, $p->{id}), 409, 'invalid_state',
         'confirm a request awaiting payment');
is(status_of($p->{id}), 'awaiting_payment', '... it still awaits payment');
$r = cancel($m1->{token}, $p->{id});
is($r->{status}, 200, 'cancel a request awaiting payment: 200');
$j = $r->{json} // {};
is($j->{status}, 'cancelled', '... cancelled');
near_now($j->{cancelled_at}, '... cancelled_at');
is($j->{last_action_at}, $j->{cancelled_at}, '... the last action');
ok(exists $j->{amount_received} && !defined $j->{amount_received},
   '... nothing received');
is($j->{amount_refunded}, 0, '... nothing refunded');
is(balance(), $bal, "... the customer's balance untouched");
error_ok(cancel($m1->{token}, $p->{id}), 409, 'invalid_state', 'cancel twice');
error_ok(confirm($m1->{token}, $p->{id}), 409, 'invalid_state',
         'confirm a cancelled request');
error_ok(pay_request($c->{token}, $p->{id}, $ben->{payment_code}), 409,
         'invalid_state', 'the customer pays a cancelled request');
is(balance(), $bal, '... nothing debited');

# ---- to_validate -> cancel -> cancelled, re-credited at once ------------------------------------

$p = paid(amount => 2500, validation_delay_days => 3);
$bal -= 2500;
is(balance(), $bal, 'a pre-reservation of 2500 paid');
$r = cancel($m1->{token}, $p->{id});
is($r->{status}, 200, 'cancel it: 200');
$j = $r->{json} // {};
is($j->{status}, 'cancelled', '... cancelled');
near_now($j->{cancelled_at}, '... cancelled_at');
is($j->{amount_received}, 2500, '... amount_received 2500');
is($j->{amount_refunded}, 2500, '... amount_refunded = amount_received');
like($r->{raw}, qr/"amount_refunded"\s*:\s*2500\b/, '... a JSON number');
$bal += 2500;
is(balance(), $bal, '... and the customer is re-credited at once');
error_ok(cancel($m1->{token}, $p->{id}), 409, 'invalid_state',
         'cancel it again');
error_ok(confirm($m1->{token}, $p->{id}), 409, 'invalid_state',
         'confirm it after');
is(balance(), $bal, '... re-credited once');

$p = req(amount => 5000, allow_partial => JSON::PP::true,
         validation_delay_days => 1);
$r = pay_request($c->{token}, $p->{id}, $ben->{payment_code}, amount => 1500);
is($r->{json}{amount_received}, 1500, 'a partial payment of 1500 of 5000');
$bal -= 1500;
$r = cancel($admin->{token}, $p->{id});
is($r->{json}{status}, 'cancelled', 'cancelled by the admin');
is($r->{json}{amount_refunded}, 1500, '... 1500 refunded (what was received)');
$bal += 1500;
is(balance(), $bal, '... re-credited');

# ---- validated without a delay, refused: nothing to confirm or cancel ------------------------------

$p = paid(amount => 700);
$bal -= 700;
is($p->{status}, 'validated', 'paid without a delay: validated');
error_ok(cancel($m1->{token}, $p->{id}), 409, 'invalid_state', 'cancel it');
error_ok(confirm($m1->{token}, $p->{id}), 409, 'invalid_state', 'confirm it');
is(balance(), $bal, '... nothing re-credited');
$p = req(amount => 700, validation_delay_days => 1);
api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$p->{id}/refuse");
is(status_of($p->{id}), 'refused', 'a refused request');
error_ok(cancel($m1->{token}, $p->{id}), 409, 'invalid_state', 'cancel it');
error_ok(confirm($m1->{token}, $p->{id}), 409, 'invalid_state', 'confirm it');

# ---- who may: the request's point of sale, its admin, its API key -----------------------------------

my $pa = paid(amount => 100, validation_delay_days => 2);
my $pb = paid(amount => 100, validation_delay_days => 2);
my $pc = req(amount => 100);
$bal -= 200;
for my $case ([$m2->{token}, 'a sibling point of sale'],
              [$key2, "a sibling's API key"],
              [$oadmin->{token}, "another convention's admin"],
              [$om->{token}, "another convention's point of sale"])
{
    error_ok(confirm($case->[0], $pa->{id}), 404, 'not_found',
             "$case->[1] confirms");
    error_ok(cancel($case->[0], $pa->{id}), 404, 'not_found',
             "$case->[1] cancels");
    error_ok(cancel($case->[0], $pc->{id}), 404, 'not_found',
             "$case->[1] cancels one awaiting payment");
    error_ok(cancel($case->[0], $p->{id}), 404, 'not_found',
             "$case->[1] cancels a refused one: 404, not 409");
}
is(status_of($pa->{id}), 'to_validate', '... still to_validate');
is(status_of($pc->{id}), 'awaiting_payment', '... still awaiting payment');
is(balance(), $bal, '... nothing re-credited');
error_ok(confirm($m1->{token}, 'pr_' . 'a' x 24), 404, 'not_found',
         'confirm an unknown request');
error_ok(cancel($m1->{token}, 'pr_' . 'a' x 24), 404, 'not_found',
         'cancel an unknown request');
error_ok(call(POST => "/api/v1/payment-requests/$pa->{id}/confirm"), 401,
         'unauthenticated', 'confirm without a credential');
$r = confirm($c->{token}, $pa->{id});
ok($r->{status} == 401 || $r->{status} == 403,
   "the customer's session confirms: 401 or 403 (got $r->{status})");
$r = api(POST => "/api/v1/payment-requests/$pa->{id}/cancel", undef, xff(),
         Cookie => 'cvc_session=' . ($m1->{_cookie} // ''));
error_ok($r, 403, 'csrf_failed', 'cancel with the cookie, no X-CSRF-Token');
is(status_of($pa->{id}), 'to_validate', '... still to_validate');

is(confirm($key1, $pa->{id})->{json}{status}, 'validated',
   "the point of sale's API key confirms: validated");
is(cancel($admin->{token}, $pb->{id})->{json}{status}, 'cancelled',
   'the admin cancels: cancelled');
$bal += 100;
is(cancel($key1, $pc->{id})->{json}{status}, 'cancelled',
   "the API key cancels one awaiting payment: cancelled");
is(balance(), $bal, 'the balance follows');
error_ok(act($m1->{token}, 'refund', $pa->{id}), 404, 'not_found',
         'an action that does not exist');
error_ok(api_as($m1->{token}, GET => "/api/v1/payment-requests/$pa->{id}/confirm"),
         405, 'method_not_allowed', 'GET …/confirm');

# ---- the validation deadline ---------------------------------------------------------------------

# Wednesday 24 June 2026, 10:00 in Paris: 1 day -> Thursday 25, 23:59:59
set_clock('2026-06-24T08:00:00Z');
$m1 = merchant_login($pos1->{id}, $pos1->{password});
my $b2 = new_beneficiary(balance => 10_000);
my $c2 = customer_login($b2->{id}, $b2->{password});
my @p = map {
    my $x = new_request($m1->{token}, customer => $b2->{id}, amount => 1000,
                        validation_delay_days => 1,
                        on_validation_expiry => $_ < 3 ? 'cancel' : 'validate');
    pay_request($c2->{token}, $x->{id}, $b2->{payment_code})->{json} // {};
} 0 .. 3;
is_deeply([map { $_->{validation_deadline} } @p],
          [('2026-06-25T21:59:59Z') x 4], 'four pre-reservations of 1000, '
          . 'deadline Thursday 25 June 23:59:59 in Paris');
is(customer_balance($c2->{token}), 6000, '... paid: 6000 left');

set_clock('2026-06-25T21:59:00Z');
$m1 = merchant_login($pos1->{id}, $pos1->{password});
is(confirm($m1->{token}, $p[0]{id})->{status}, 200,
   'confirm a minute before the deadline: 200');
set_clock('2026-06-25T22:00:05Z');
$m1 = merchant_login($pos1->{id}, $pos1->{password});
$c2 = customer_login($b2->{id}, $b2->{password});
error_ok(confirm($m1->{token}, $p[1]{id}), 409, 'invalid_state',
         'confirm 5 seconds after the deadline');
error_ok(cancel($m1->{token}, $p[2]{id}), 409, 'invalid_state',
         'cancel 5 seconds after the deadline');

my %st;
ok(wait_until(30, sub {
       %st = map { $_ => get_request($m1->{token}, $p[$_]{id})->{json}{status}
                         // 'none' } 1 .. 3;
       $st{1} eq 'expired' && $st{2} eq 'expired' && $st{3} eq 'validated' }),
   'after the deadline: on_validation_expiry cancel -> expired, validate -> '
   . 'validated') or diag join ', ', map { "$_: $st{$_}" } sort keys %st;
$j = get_request($m1->{token}, $p[1]{id})->{json} // {};
ok(is_utc_time($j->{expired_at}), '... expired_at set');
is($j->{amount_refunded}, 1000, '... the expired one refunded');
is(customer_balance($c2->{token}), 8000,
   '... the customer re-credited for the two expired ones');
$j = get_request($m1->{token}, $p[3]{id})->{json} // {};
ok(is_utc_time($j->{validated_at}), '... validated_at set on the other');
is($j->{amount_refunded}, 0, '... nothing refunded there');
is(reset_clock(), 204, 'clock back to real time');

done_testing;
