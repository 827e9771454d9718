# Creating payment requests (POST /api/v1/payment-requests): the object
# of the contract, who may create for which point of sale, pay_by for
# immediate and deferred requests (summer and winter), pre-reservations,
# every field rule, duplicate baskets, and the remembered notify_email.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('192.0.2.200');

# Wednesday 24 June 2026, 10:00 in Paris (UTC+2)
my $clock = set_clock('2026-06-24T08:00:00Z');
my $today = '2026-06-24';
my $t_clock = epoch_of($clock->{now} // '') // 0;

my $conv = new_convention(name => 'Camping des Flots Bleus');
my $pos = new_pos($conv, name => 'Accueil camping');
my $pos2 = new_pos($conv, name => 'Snack de la plage',
                   category => 'restaurants');
my $oconv = new_convention(name => 'Autre convention');
my $opos = new_pos($oconv, name => 'Ailleurs');
my $ben = new_beneficiary(balance => 1_000_000);

my $admin = merchant_login($conv->{id}, $conv->{password});
my $cashier = merchant_login($pos->{id}, $pos->{password});
my $cashier2 = merchant_login($pos2->{id}, $pos2->{password});
my $oadmin = merchant_login($oconv->{id}, $oconv->{password});
my $cust = customer_login($ben->{id}, $ben->{password});
my ($key, $key_id) = new_api_key($admin->{token}, $pos->{id});
my ($okey) = new_api_key($oadmin->{token}, $opos->{id});

my $DELETE = \'delete';

# body(%over): a valid body for the admin; $DELETE removes a member
sub body {
    my (%over) = @_;
    my %b = (point_of_sale => $pos->{id}, mode => 'immediate',
             amount => 4000, basket_number => unique_basket(),
             customer => $ben->{id});
    for my $k (keys %over) {
        if (ref $over{$k} && $over{$k} == $DELETE) { delete $b{$k} }
        else { $b{$k} = $over{$k} }
    }
    return \%b;
}

sub create { my ($token, %over) = @_; create_request($token, body(%over)) }

sub is_null {
    my ($h, $k, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(ref $h eq 'HASH' && exists $h->{$k} && !defined $h->{$k},
       "$name: $k null");
}

my @refused;     # the basket numbers of refused creations
sub bad {
    my ($token, $over, $fields, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $b = body(%$over);
    push @refused, $b->{basket_number}
        if defined $b->{basket_number} && !ref $b->{basket_number}
           && $b->{basket_number} =~ /^PANIER-\d+\z/;
    my $r = create_request($token, $b);
    error_ok($r, 422, 'validation_failed', $name);
    fields_are($r, $fields, $name);
}

# ---- the object ------------------------------------------------------------------

my $basket = unique_basket('A');
my $r = create($admin->{token}, basket_number => $basket,
               label => 'Séjour 3 nuits, emplacement 12',
               customer_reference => 'CLI-0042', seller_id => 'VEND-7');
is($r->{status}, 201, 'an admin creates an immediate request: 201');
like($r->{headers}{'content-type'} // '', qr{^application/json}, '... JSON');
is($r->{headers}{'cache-control'}, 'no-store', '... no-store');
my $pr = $r->{json} // {};
is_deeply([sort keys %$pr], [sort(pr_members())],
          "... the members of the contract's object, and no other");
like($pr->{id} // '', qr/^pr_[0-9a-f]{24}\z/, '... id: pr_ and 24 hex digits');
is($pr->{point_of_sale}, $pos->{id}, '... point_of_sale');
like($r->{raw}, qr/"point_of_sale"\s*:\s*"$pos->{id}"/, '... as a string');
is($pr->{mode}, 'immediate', '... mode immediate');
is($pr->{type}, 'immediate_payment', '... type immediate_payment');
is($pr->{status}, 'awaiting_payment', '... status awaiting_payment');
is($pr->{amount}, 4000, '... amount');
like($r->{raw}, qr/"amount"\s*:\s*4000\b/, '... a JSON number');
is_null($pr, 'amount_received', '...');
is($pr->{amount_refunded}, 0, '... amount_refunded 0');
like($r->{raw}, qr/"amount_refunded"\s*:\s*0\b/, '... a JSON number');
is($pr->{currency}, 'EUR', '... currency EUR');
ok(JSON::PP::is_bool($pr->{allow_partial}) && !$pr->{allow_partial},
   '... allow_partial false (a JSON boolean)');
is($pr->{basket_number}, $basket, '... basket_number');
is($pr->{customer}, $ben->{id}, '... customer: the string given');
like($r->{raw}, qr/"customer"\s*:\s*"$ben->{id}"/, '... as a string');
is($pr->{label}, 'Séjour 3 nuits, emplacement 12', '... label (UTF-8)');
is($pr->{customer_reference}, 'CLI-0042', '... customer_reference');
is($pr->{seller_id}, 'VEND-7', '... seller_id');
is($pr->{validation_delay_days}, 0, '... validation_delay_days 0');
is($pr->{on_validation_expiry}, 'cancel', '... on_validation_expiry cancel');
is_null($pr, $_, '...') for qw(validation_deadline notify_email paid_at
                               validated_at cancelled_at expired_at
                               refused_at);
ok(is_utc_time($pr->{created_at}), '... created_at in RFC 3339 UTC');
my $created = epoch_of($pr->{created_at} // '') // 0;
cmp_ok(abs($created - $t_clock), '<=', 120,
       "... the test clock's now ($pr->{created_at})");
ok(is_utc_time($pr->{pay_by}), '... pay_by in RFC 3339 UTC');
cmp_ok(abs((epoch_of($pr->{pay_by} // '') // 0) - $created - 900), '<', 1,
       "... pay_by = created_at + 15 minutes ($pr->{pay_by})");
ok(is_utc_time($pr->{last_action_at}), '... last_action_at in RFC 3339 UTC');
cmp_ok(abs((epoch_of($pr->{last_action_at} // '') // 0) - $created), '<', 1,
       '... last action: the creation');

# ---- who creates for which point of sale ---------------------------------------------

$r = create($cashier->{token}, point_of_sale => $DELETE);
is($r->{status}, 201, 'a point of sale, without point_of_sale: 201');
is($r->{json}{point_of_sale}, $pos->{id}, '... its own is implied');
$r = create($cashier->{token});
is($r->{status}, 201, 'a point of sale naming itself: 201');
is($r->{json}{point_of_sale}, $pos->{id}, '... its own');
bad($cashier->{token}, { point_of_sale => $pos2->{id} }, ['point_of_sale'],
    'a point of sale naming a sibling');
bad($cashier->{token}, { point_of_sale => $opos->{id} }, ['point_of_sale'],
    "a point of sale naming another convention's");

$r = create($key, point_of_sale => $DELETE);
is($r->{status}, 201, 'an API key, without point_of_sale: 201');
is($r->{json}{point_of_sale}, $pos->{id}, "... the key's point of sale");
$r = create($key);
is($r->{status}, 201, 'an API key naming its point of sale: 201');
bad($key, { point_of_sale => $pos2->{id} }, ['point_of_sale'],
    'an API key naming another point of sale');
bad($okey, { point_of_sale => $pos->{id} }, ['point_of_sale'],
    "another convention's API key naming this point of sale");

$r = create($admin->{token}, point_of_sale => $pos2->{id});
is($r->{status}, 201, 'an admin, for its other point of sale: 201');
is($r->{json}{point_of_sale}, $pos2->{id}, '... that one');
bad($admin->{token}, { point_of_sale => $DELETE }, ['point_of_sale'],
    'an admin without point_of_sale');
bad($admin->{token}, { point_of_sale => $opos->{id} }, ['point_of_sale'],
    "an admin naming another convention's point of sale");
bad($oadmin->{token}, {}, ['point_of_sale'],
    "another convention's admin naming this point of sale");
bad($admin->{token}, { point_of_sale => unique_digits(12) }, ['point_of_sale'],
    'an admin naming no point of sale');
{
    my $copy = $pos->{id};
    bad($admin->{token}, { point_of_sale => 0 + $copy }, ['point_of_sale'],
        'point_of_sale as a number');
}

error_ok(call(POST => '/api/v1/payment-requests', body()), 401,
         'unauthenticated', 'no credential');
error_ok(create_request('cvc_sk_' . 'x' x 43, body()), 401, 'unauthenticated',
         'an unknown API key');
$r = create($cust->{token});
ok($r->{status} == 401 || $r->{status} == 403,
   "a customer's session: 401 or 403 (got $r->{status})");
like(eval { $r->{json}{error}{code} } // '', qr/^(unauthenticated|forbidden)\z/,
     '... unauthenticated or forbidden');
$r = api(POST => '/api/v1/payment-requests', body(), xff(),
         Cookie => "cvc_session=" . ($cashier->{_cookie} // ''));
error_ok($r, 403, 'csrf_failed', 'a session cookie without X-CSRF-Token');
$r = api(POST => '/api/v1/payment-requests', body(), xff(),
         Cookie => "cvc_session=" . ($cashier->{_cookie} // ''),
         'X-CSRF-Token' => $cashier->{csrf_token});
is($r->{status}, 201, 'a session cookie with its X-CSRF-Token: 201');

# ---- deferred requests: pay_by is the end of a Paris day ---------------------------

for my $case (['2026-06-30', '2026-06-30T21:59:59Z', 'in summer'],
              ['2026-12-15', '2026-12-15T22:59:59Z', 'in winter'],
              [$today, '2026-06-24T21:59:59Z', 'today'],
              ['2026-10-25', '2026-10-25T22:59:59Z',
               'the day summer time ends'],
              ['2027-03-28', '2027-03-28T21:59:59Z',
               'the day summer time starts'],
              ['2027-06-24', '2027-06-24T21:59:59Z', 'today + 365'])
{
    my ($date, $end, $what) = @$case;
    $r = create($admin->{token}, mode => 'deferred', pay_by => $date);
    is($r->{status}, 201, "deferred, pay_by $date ($what): 201")
        or diag $r->{raw};
    is($r->{json}{mode}, 'deferred', '... mode deferred');
    is($r->{json}{type}, 'deferred_payment', '... type deferred_payment');
    is($r->{json}{status}, 'awaiting_payment', '... awaiting_payment');
    is($r->{json}{pay_by}, $end, "... pay_by $end (23:59:59 in Paris)");
    is(paris_end_of_day($date), $end, '... (the helper agrees)');
}

bad($admin->{token}, { mode => 'deferred' }, ['pay_by'],
    'deferred without pay_by');
bad($admin->{token}, { mode => 'deferred', pay_by => undef }, ['pay_by'],
    'deferred with pay_by null');
bad($admin->{token}, { pay_by => '2026-06-30' }, ['pay_by'],
    'immediate with a pay_by');
for my $case (['2026-06-23', 'yesterday'], ['2027-06-25', 'today + 366'],
              ['2026-02-30', 'a day that does not exist'],
              ['30/06/2026', 'a French date'], ['2026-6-30', 'no zero'],
              ['2026-06-30T21:59:59Z', 'a time'], ['', 'empty'])
{
    bad($admin->{token}, { mode => 'deferred', pay_by => $case->[0] },
        ['pay_by'], "pay_by $case->[1]");
}
bad($admin->{token}, { mode => 'deferred', pay_by => 20260630 }, ['pay_by'],
    'pay_by as a number');

# ---- pre-reservations -----------------------------------------------------------------

$r = create($admin->{token}, validation_delay_days => 2);
is($r->{status}, 201, 'immediate with a 2-day validation delay: 201');
is($r->{json}{type}, 'pre_reservation', '... type pre_reservation');
is($r->{json}{mode}, 'immediate', '... mode immediate');
is($r->{json}{validation_delay_days}, 2, '... validation_delay_days 2');
is_null($r->{json}, 'validation_deadline', '... (until paid)');
cmp_ok(abs((epoch_of($r->{json}{pay_by} // '') // 0)
           - (epoch_of($r->{json}{created_at} // '') // 0) - 900), '<', 1,
       '... pay_by = created_at + 15 minutes');
$r = create($admin->{token}, mode => 'deferred', pay_by => '2026-07-01',
            validation_delay_days => 6, on_validation_expiry => 'validate');
is($r->{status}, 201, 'deferred with a 6-day delay: 201');
is($r->{json}{type}, 'pre_reservation', '... type pre_reservation');
is($r->{json}{mode}, 'deferred', '... mode deferred');
is($r->{json}{on_validation_expiry}, 'validate',
   '... on_validation_expiry validate');
$r = create($admin->{token}, validation_delay_days => 0,
            on_validation_expiry => 'cancel');
is($r->{status}, 201, 'a 0-day delay: 201');
is($r->{json}{type}, 'immediate_payment', '... not a pre-reservation');

for my $case ([7, '7'], [-1, '-1'], ['2', 'a string'], [1.5, '1.5'],
              [JSON::PP::true, 'true'])
{
    bad($admin->{token}, { validation_delay_days => $case->[0] },
        ['validation_delay_days'], "validation_delay_days $case->[1]");
}
for my $bad ('confirm', 'CANCEL', '', 1) {
    bad($admin->{token}, { validation_delay_days => 2,
                           on_validation_expiry => $bad },
        ['on_validation_expiry'], "on_validation_expiry '$bad'");
}

# ---- amounts ---------------------------------------------------------------------

for my $ok ([1, '1 cent'], [10_000_000, '10 000 000 cents']) {
    $r = create($admin->{token}, amount => $ok->[0]);
    is($r->{status}, 201, "amount $ok->[1]: 201");
    is($r->{json}{amount}, $ok->[0], '... as given');
}
for my $case (['40', 'a string "40"'], [40.5, '40.5'],
              [JSON::PP::true, 'true'], [0, '0'], [-100, 'negative'],
              [10_000_001, '10 000 001'], [undef, 'null'],
              [$DELETE, 'missing'], [[4000], 'an array'])
{
    bad($admin->{token}, { amount => $case->[0] }, ['amount'],
        "amount $case->[1]");
}
$r = create_request($admin->{token}, sprintf(
    '{"point_of_sale": "%s", "mode": "immediate", "amount": 4000.5, '
    . '"basket_number": "%s", "customer": "%s"}',
    $pos->{id}, unique_basket(), $ben->{id}),
    'Content-Type' => 'application/json');
error_ok($r, 422, 'validation_failed', 'amount 4000.5 (raw JSON)');
fields_are($r, ['amount'], 'amount 4000.5 (raw JSON)');

# ---- the other fields -----------------------------------------------------------

for my $case (['later', 'later'], ['IMMEDIATE', 'in capitals'],
              [$DELETE, 'missing'], [1, 'a number'], [undef, 'null'])
{
    bad($admin->{token}, { mode => $case->[0] }, ['mode'],
        "mode $case->[1]");
}

$r = create($admin->{token}, allow_partial => JSON::PP::true);
is($r->{status}, 201, 'allow_partial true: 201');
ok(JSON::PP::is_bool($r->{json}{allow_partial}) && $r->{json}{allow_partial},
   '... allow_partial true');
for my $case (['true', 'a string'], [1, '1']) {
    bad($admin->{token}, { allow_partial => $case->[0] }, ['allow_partial'],
        "allow_partial $case->[1]");
}

for my $ok (['b' x 64, '64 characters'], ['é' x 64, '64 accented letters'],
            ['Panier n°12 — été', 'spaces and accents'], ['7', 'one digit'])
{
    $r = create($admin->{token}, basket_number => $ok->[0]);
    is($r->{status}, 201, "basket_number of $ok->[1]: 201");
    is($r->{json}{basket_number}, $ok->[0], '... as given');
}
for my $case (['b' x 65, '65 characters'], ['', 'empty'],
              ["PANIER\t1", 'a tab'], ["PANIER\n1", 'a new line'],
              ["PANIER\x{1}", 'a control character'], [12345, 'a number'],
              [undef, 'null'], [$DELETE, 'missing'])
{
    bad($admin->{token}, { basket_number => $case->[0] }, ['basket_number'],
        "basket_number $case->[1]");
}

for my $f (['label', 255], ['customer_reference', 64], ['seller_id', 64]) {
    my ($name, $max) = @$f;
    $r = create($admin->{token}, $name => 'x' x $max);
    is($r->{status}, 201, "$name of $max characters: 201");
    is($r->{json}{$name}, 'x' x $max, '... as given');
    $r = create($admin->{token}, $name => 'é' x $max);
    is($r->{status}, 201, "$name of $max accented letters: 201");
    $r = create($admin->{token}, $name => undef);
    is($r->{status}, 201, "$name null: 201");
    is_null($r->{json}, $name, '...');
    bad($admin->{token}, { $name => 'x' x ($max + 1) }, [$name],
        "$name of " . ($max + 1) . ' characters');
    bad($admin->{token}, { $name => 42 }, [$name], "$name as a number");
}

# customer: an 11-digit id or a contact e-mail of somebody
$r = create($admin->{token}, customer => $ben->{email});
is($r->{status}, 201, 'customer by contact e-mail: 201');
is($r->{json}{customer}, $ben->{email}, '... the string given');
$r = create($admin->{token}, customer => uc $ben->{email});
is($r->{status}, 201, 'customer by e-mail in capitals: 201');
is($r->{json}{customer}, uc $ben->{email}, '... the string given');
for my $case ([unique_digits(11), 'an id of nobody'],
              [unique_email('nobody'), 'an e-mail of nobody'],
              ['1234', 'a malformed id'], ['', 'empty'],
              [$conv->{id}, "a convention's id"],
              [$pos->{id}, "a point of sale's id"],
              [undef, 'null'], [$DELETE, 'missing'])
{
    bad($admin->{token}, { customer => $case->[0] }, ['customer'],
        "customer: $case->[1]");
}
{
    my $copy = $ben->{id};
    bad($admin->{token}, { customer => 0 + $copy }, ['customer'],
        'customer as a number');
}

# notify_email, remember_notify_email: their types
for my $case (['pas-une-adresse', 'not an e-mail'], [42, 'a number'],
              [('a' x 250) . '@example.fr', '261 characters'])
{
    bad($admin->{token}, { notify_email => $case->[0] }, ['notify_email'],
        "notify_email $case->[1]");
}
for my $case (['yes', 'a string'], [1, '1']) {
    bad($admin->{token}, { notify_email => unique_email('n'),
                           remember_notify_email => $case->[0] },
        ['remember_notify_email'], "remember_notify_email $case->[1]");
}

# unknown members
for my $f (['discount', 10], ['currency', 'EUR'], ['status', 'validated'],
           ['id', 'pr_' . '0' x 24], ['Amount', 4000])
{
    bad($admin->{token}, { $f->[0] => $f->[1] }, [$f->[0]],
        "an unknown member '$f->[0]'");
}
$r = create_request($admin->{token}, { mode => 'soon', amount => 0,
                                       basket_number => '',
                                       point_of_sale => $pos->{id},
                                       colour => 'blue' });
error_ok($r, 422, 'validation_failed', 'five faults at once');
fields_are($r, [qw(amount basket_number colour customer mode)],
           'five faults at once: each named');

# bodies that are no object
for my $case (['[]', 'an array'], ['"x"', 'a string'], ['42', 'a number'],
              ['null', 'null'])
{
    $r = create_request($admin->{token}, $case->[0],
                        'Content-Type' => 'application/json');
    error_ok($r, 422, 'validation_failed', "a body of $case->[1]");
}
$r = create_request($admin->{token}, '{"mode": "immediate",',
                    'Content-Type' => 'application/json');
error_ok($r, 400, 'invalid_json', 'malformed JSON');
$r = create_request($admin->{token}, '{"amount": 1, "amount": 2}',
                    'Content-Type' => 'application/json');
error_ok($r, 400, 'invalid_json', 'a duplicate member');
$r = create_request($admin->{token}, 'amount=4000',
                    'Content-Type' => 'application/x-www-form-urlencoded');
error_ok($r, 415, 'unsupported_media_type', 'a form');
cmp_ok(scalar @refused, '>', 50, scalar(@refused) . ' refused creations');
is(psql('select count(*) from cvc.payment_requests where basket_number in ('
        . join(', ', map { sql_quote($_) } @refused) . ')'), 0,
   '... none of which left a request behind');

# ---- duplicate baskets ------------------------------------------------------------

my $dup = unique_basket('DUP');
$r = create($admin->{token}, basket_number => $dup);
is($r->{status}, 201, "basket $dup: 201");
my $first = $r->{json};
$r = create($cashier->{token}, basket_number => $dup, amount => 999);
error_ok($r, 409, 'duplicate_basket',
         'the same basket, same point of sale, awaiting payment');
error_ok(create($key, basket_number => $dup), 409, 'duplicate_basket',
         '... through the API key too');
$r = create($admin->{token}, basket_number => $dup, point_of_sale => $pos2->{id});
is($r->{status}, 201, 'the same basket at another point of sale: 201');
$r = create($oadmin->{token}, basket_number => $dup,
            point_of_sale => $opos->{id});
is($r->{status}, 201, "the same basket at another convention's: 201");
$r = create($admin->{token}, basket_number => lc $dup);
is($r->{status}, 201, 'the basket in other letters is another basket: 201');

# cancelled: free again
is(api_as($admin->{token}, POST => "/api/v1/payment-requests/$first->{id}/cancel")
       ->{status}, 200, 'the first is cancelled');
$r = create($cashier->{token}, basket_number => $dup);
is($r->{status}, 201, 'then the basket can be asked again: 201');
isnt($r->{json}{id}, $first->{id}, '... a new request');
error_ok(create($admin->{token}, basket_number => $dup), 409,
         'duplicate_basket', '... and is live again');

# refused: free again
my $refb = unique_basket('REF');
my $p = new_request($admin->{token}, point_of_sale => $pos->{id},
                    customer => $ben->{id}, basket_number => $refb);
is(api_as($cust->{token}, POST => "/api/v1/customer/payment-requests/$p->{id}/refuse")
       ->{status}, 200, 'a request refused by the customer');
is(create($admin->{token}, basket_number => $refb)->{status}, 201,
   'its basket can be asked again: 201');

# validated (paid, no delay) and to_validate (paid, with a delay): live
my $valb = unique_basket('VAL');
$p = new_request($admin->{token}, point_of_sale => $pos->{id},
                 customer => $ben->{id}, basket_number => $valb);
is(pay_request($cust->{token}, $p->{id}, $ben->{payment_code})->{status}, 200,
   'a request paid without delay (validated)');
error_ok(create($admin->{token}, basket_number => $valb), 409,
         'duplicate_basket', 'its basket, validated');
my $tvb = unique_basket('TV');
$p = new_request($admin->{token}, point_of_sale => $pos->{id},
                 customer => $ben->{id}, basket_number => $tvb,
                 validation_delay_days => 2);
$r = pay_request($cust->{token}, $p->{id}, $ben->{payment_code});
is($r->{json}{status}, 'to_validate', 'a pre-reservation paid (to_validate)');
error_ok(create($admin->{token}, basket_number => $tvb), 409,
         'duplicate_basket', 'its basket, to validate');

# ---- notify_email and the remembered one -------------------------------------------

sub me_notify {
    my ($s) = @_;
    my $r = api_as($s->{token}, GET => '/api/v1/merchant/me');
    return exists $r->{json}{notify_email} ? $r->{json}{notify_email} : 'absent';
}

my $tok2 = $cashier2->{token};
is(me_notify($cashier2), undef, 'point of sale 2: nothing remembered');
$r = create($tok2, point_of_sale => $DELETE);
is_null($r->{json}, 'notify_email', 'no notify_email, nothing remembered:');
my $once = unique_email('once');
$r = create($tok2, point_of_sale => $DELETE, notify_email => $once);
is($r->{status}, 201, 'a notify_email: 201');
is($r->{json}{notify_email}, $once, '... on the request');
is(me_notify($cashier2), undef, '... not remembered');
is_null(create($tok2, point_of_sale => $DELETE)->{json}, 'notify_email',
        'the next request without one:');
$r = create($tok2, point_of_sale => $DELETE, notify_email => $once,
            remember_notify_email => JSON::PP::false);
is($r->{json}{notify_email}, $once, 'remember_notify_email false: used');
is(me_notify($cashier2), undef, '... not remembered');

my $kept = unique_email('kept');
$r = create($tok2, point_of_sale => $DELETE, notify_email => $kept,
            remember_notify_email => JSON::PP::true);
is($r->{status}, 201, 'remember_notify_email true: 201');
is($r->{json}{notify_email}, $kept, '... on the request');
ok(!exists $r->{json}{remember_notify_email}, '... (not a member of the request)');
is(me_notify($cashier2), $kept, '... GET /merchant/me shows it remembered');
is(me_notify(merchant_login($pos2->{id}, $pos2->{password})), $kept,
   '... in a new session too');
$r = create($tok2, point_of_sale => $DELETE);
is($r->{json}{notify_email}, $kept, 'the next request without one: '
                                    . 'the remembered one');
$r = create($tok2, point_of_sale => $DELETE, notify_email => undef);
is_null($r->{json}, 'notify_email', 'notify_email null: none,');
is(me_notify($cashier2), $kept, '... and the remembered one stays');
$r = create($tok2, point_of_sale => $DELETE, notify_email => $once);
is($r->{json}{notify_email}, $once, 'another one, not remembered: used');
is(create($tok2, point_of_sale => $DELETE)->{json}{notify_email}, $kept,
   '... and the next one without: still the remembered one');
my $newer = unique_email('newer');
create($tok2, point_of_sale => $DELETE, notify_email => $newer,
       remember_notify_email => JSON::PP::true);
is(me_notify($cashier2), $newer, 'remembering another replaces it');
is(create($tok2, point_of_sale => $DELETE)->{json}{notify_email}, $newer,
   '... and applies');
is(me_notify($admin), undef, "the admin's account remembers nothing of it");
is_null(create($admin->{token}, point_of_sale => $pos2->{id})->{json},
        'notify_email', "the admin's request for point of sale 2:");
is(me_notify($cashier), undef, 'nor does point of sale 1');

# ---- expired: the basket is free again ----------------------------------------------

my $expb = unique_basket('EXP');
my $exp = new_request($cashier->{token}, customer => $ben->{id},
                      basket_number => $expb);
set_clock('2026-06-24T09:00:00Z');     # 11:00 in Paris: pay_by has passed
my $admin_b = merchant_login($conv->{id}, $conv->{password});
my $status;
ok(wait_until(30, sub {
       $status = get_request($admin_b->{token}, $exp->{id})->{json}{status};
       ($status // '') eq 'expired' }),
   'a request whose pay_by passed turns expired')
    or diag 'status: ' . ($status // 'none');
$r = get_request($admin_b->{token}, $exp->{id});
ok(is_utc_time($r->{json}{expired_at}), '... expired_at set');
$r = create($admin_b->{token}, basket_number => $expb);
is($r->{status}, 201, 'its basket can be asked again: 201') or diag $r->{raw};

is(reset_clock(), 204, 'clock back to real time');

done_testing;
