# Payouts ("Mes remboursements"): the requests of a point of sale validated
# on the same Europe/Paris day make one payout (the sum, the count),
# scheduled 5 business days later (here across a weekend and 14 July),
# paid by the timer at 00:00 Paris time that day (not one second before),
# the money moved from merchant_pending:<pos> to merchant_paid:<pos>; the
# list, its filters, one payout with its requests, the reconciliation file
# (CSV with ";", 40,00 and a total line; XLSX), and who may see them.
use strict;
use warnings;
use utf8;
use Test::More;
use Encode ();
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('198.51.100.33');

my $conv = new_convention(name => 'Domaine des Sources');
my $pos = new_pos($conv, name => 'Domaine des Sources — hôtel');
my $posq = new_pos($conv, name => 'Domaine des Sources — spa');
my $ben = new_beneficiary(balance => 100_000);

# the sessions at() opens again
my ($m, $mq, $admin, $c);
keep_logged_in(\$m => $pos, \$mq => $posq, \$admin => $conv, \$c => $ben);
sub req {
    my ($token, %f) = @_;
    new_request($token, customer => $ben->{id}, %f);
}
sub pay {
    my $r = pay_request($c->{token}, $_[0]{id}, $ben->{payment_code});
    $r->{status} == 200 or diag "pay: $r->{status} $r->{raw}";
    return $r->{json};
}
sub ledger {
    my ($account) = @_;
    return 0 + psql('select coalesce(sum(amount), 0) from cvc.ledger_entries '
                    . 'where account = ' . sql_quote($account));
}
sub payouts {
    my ($token, $query) = @_;
    my $r = api_as($token, GET => '/api/v1/payouts' . ($query // ''));
    is($r->{status}, 200, "GET /api/v1/payouts" . ($query // '') . ': 200')
        or diag $r->{raw};
    return @{ $r->{json}{data} // [] };
}
sub by_date { my ($date, @p) = @_; (grep { $_->{business_date} eq $date } @p)[0] }

# ---- validations on Thursday 9 July (Paris), and one just after midnight ----------

at('2026-07-07T08:00:00Z');
my $r2 = req($m->{token}, amount => 2550, validation_delay_days => 2);
is(pay($r2)->{status}, 'to_validate', 'a pre-reservation paid on Tuesday');

at('2026-07-09T08:00:00Z');                 # Thursday, 10:00 in Paris
my $r1 = req($m->{token}, amount => 4000);
is(pay($r1)->{status}, 'validated', 'an immediate payment on Thursday: validated');
my $rq = req($mq->{token}, amount => 1200);
is(pay($rq)->{status}, 'validated', 'another point of sale, the same day');
my $r5 = req($m->{token}, amount => 700, validation_delay_days => 3);
is(pay($r5)->{status}, 'to_validate', 'a pre-reservation left to validate');
my $r6 = req($m->{token}, amount => 900);   # never paid

at('2026-07-09T21:30:00Z');                 # 23:30 in Paris, still Thursday
is(api_as($m->{token}, POST => "/api/v1/payment-requests/$r2->{id}/confirm")->{json}{status},
   'validated', 'the pre-reservation confirmed at 23:30 Paris time');

at('2026-07-09T22:30:00Z');                 # 00:30 in Paris: Friday 10 July
my $r3 = req($m->{token}, amount => 1000);
is(pay($r3)->{status}, 'validated', 'a payment at 00:30 Paris time on Friday');

my @list = payouts($m->{token});
my $p9 = by_date('2026-07-09', @list);
my $p10 = by_date('2026-07-10', @list);
is(scalar @list, 2, 'the point of sale has two payouts (one per Paris day)');
ok($p9 && $p10, '... for 9 July and 10 July');
$p9 //= {};
$p10 //= {};
is_deeply([sort keys %$p9], [sort qw(id point_of_sale business_date amount count
                                      scheduled_for status paid_at)],
          'a payout: the members of the contract');
is($p9->{point_of_sale}, $pos->{id}, '9 July: the point of sale');
is($p9->{amount}, 6550, '... the sum: 40,00 + 25,50');
is($p9->{count}, 2, '... 2 requests');
is($p9->{scheduled_for}, '2026-07-17',
   '... scheduled 5 business days later: Friday 17 July (weekend and 14 July skipped)');
is($p9->{status}, 'scheduled', '... scheduled');
is($p9->{paid_at}, undef, '... not paid');
is($p10->{amount}, 1000, '10 July: 10,00');
is($p10->{count}, 1, '... 1 request');
is($p10->{scheduled_for}, '2026-07-20', '... scheduled for Monday 20 July');

my $g = api_as($m->{token}, GET => "/api/v1/payouts/$p9->{id}");
is($g->{status}, 200, 'GET /api/v1/payouts/{id}: 200');
is_deeply([sort map { $_->{id} } @{ $g->{json}{payment_requests} // [] }],
          [sort $r1->{id}, $r2->{id}], '... its requests: the two of 9 July');
is($g->{json}{amount}, 6550, '... the sum');
my @missing = map { my $p = $_; grep { !exists $p->{$_} } pr_members() }
              @{ $g->{json}{payment_requests} // [] };
is_deeply(\@missing, [], '... each request with every member');

is_deeply([map { $_->{business_date} } payouts($m->{token}, '?from=2026-07-10')],
          ['2026-07-10'], 'from=2026-07-10: only 10 July');
is_deeply([map { $_->{business_date} } payouts($m->{token}, '?to=2026-07-09')],
          ['2026-07-09'], 'to=2026-07-09: only 9 July');
my @q = payouts($admin->{token}, "?point_of_sale=$posq->{id}");
is_deeply([map { [$_->{point_of_sale}, $_->{amount}, $_->{count}] } @q],
          [[$posq->{id}, 1200, 1]], 'the admin, point_of_sale=the spa: its payout');
my @all = payouts($admin->{token});
is(scalar @all, 3, 'the admin sees the payouts of both points of sale');
my $pq = $q[0] // {};

is(ledger("merchant_pending:$pos->{id}"), 7550, 'the ledger: 75,50 pending');
is(ledger("merchant_paid:$pos->{id}"), 0, '... nothing paid yet');

# ---- the reconciliation file ----------------------------------------------------------

my $csv = api_as($m->{token}, GET => "/api/v1/payouts/$p9->{id}/export?format=csv");
is($csv->{status}, 200, 'export as CSV: 200');
like($csv->{headers}{'content-type'} // '', qr{^text/csv}, '... text/csv');
like($csv->{headers}{'content-disposition'} // '', qr/^attachment;\s*filename=.+\.csv/,
     '... an attachment');
like($csv->{raw}, qr/^\xEF\xBB\xBF/, '... UTF-8 with a BOM, for Excel');
my $text = Encode::decode('UTF-8', $csv->{raw} =~ s/^\xEF\xBB\xBF//r);
my @lines = grep { /\S/ } split /\r?\n/, $text;
is(scalar @lines, 4, '... a header, one line per request, the total');
like($lines[0] // '', qr/;/, '... ";"-separated');
my ($l1) = grep { /\Q$r1->{basket_number}\E/ } @lines;
my ($l2) = grep { /\Q$r2->{basket_number}\E/ } @lines;
like($l1 // '', qr/(?:^|;)"?40,00"?(?:;|$)/, '... the line of 40,00');
like($l2 // '', qr/(?:^|;)"?25,50"?(?:;|$)/, '... the line of 25,50');
unlike($text, qr/\Q$r3->{basket_number}\E|\Q$r5->{basket_number}\E/,
       '... nothing of another day or not validated');
like($lines[-1] // '', qr/total/i, '... the last line is the total');
like($lines[-1] // '', qr/(?:^|;)"?65,50"?(?:;|$)/, '... 65,50');

my $xlsx = api_as($m->{token}, GET => "/api/v1/payouts/$p9->{id}/export?format=xlsx");
is($xlsx->{status}, 200, 'export as XLSX: 200');
like($xlsx->{headers}{'content-type'} // '', qr/spreadsheetml/, '... an XLSX type');
like($xlsx->{raw}, qr/^PK\x03\x04/, '... a zip file');
error_ok(api_as($m->{token}, GET => "/api/v1/payouts/$p9->{id}/export?format=pdf"),
         400, 'invalid_parameter', 'export as PDF');

# ---- who may see them -------------------------------------------------------------------

my $key = new_api_key($admin->{token}, $pos->{id});
my $kr = api(GET => '/api/v1/payouts', undef, xff(), auth_header($key));
is($kr->{status}, 200, 'an API key lists payouts');
is_deeply([sort map { $_->{point_of_sale} } @{ $kr->{json}{data} // [] }],
          [$pos->{id}, $pos->{id}], '... only those of its point of sale');
error_ok(api(GET => "/api/v1/payouts/$pq->{id}", undef, xff(), auth_header($key)),
         404, 'not_found', 'the key: another point of sale\'s payout');
error_ok(api_as($mq->{token}, GET => "/api/v1/payouts/$p9->{id}"),
         404, 'not_found', 'the spa: the hotel\'s payout');
my $other = new_convention();
my $os = merchant_login($other->{id}, $other->{password});
error_ok(api_as($os->{token}, GET => "/api/v1/payouts/$p9->{id}"),
         404, 'not_found', 'another convention: the payout');
error_ok(api_as($os->{token}, GET => "/api/v1/payouts/$p9->{id}/export?format=csv"),
         404, 'not_found', 'another convention: the export');
my $ol = api_as($os->{token}, GET => '/api/v1/payouts');
ok(!grep({ $_->{point_of_sale} eq $pos->{id} } @{ $ol->{json}{data} // [] }),
   'another convention\'s list: none of these');
is(api(GET => '/api/v1/payouts', undef, xff())->{status}, 401, 'no credential: 401');

# ---- paid on the day, at 00:00 Paris time -------------------------------------------------

at('2026-07-16T21:59:00Z');
hold_clock('2026-07-16T21:59:58Z', 2.5);    # 23:59:58 on Thursday 16 July, Paris
my $v = api_as($m->{token}, GET => "/api/v1/payouts/$p9->{id}")->{json} // {};
is($v->{status}, 'scheduled', 'one second before 17 July 00:00 Paris: still scheduled');
is(ledger("merchant_paid:$pos->{id}"), 0, '... nothing paid');
is(get_request($m->{token}, $r5->{id})->{json}{status}, 'expired',
   '(the pre-reservation left to validate expired on 15 July: not in any payout)');

set_clock('2026-07-16T22:00:00Z');
ok(wait_until(5, sub {
       ($v = api_as($m->{token}, GET => "/api/v1/payouts/$p9->{id}")->{json} // {})
           ->{status} eq 'paid' }),
   'at 00:00 Paris time on 17 July: paid, by the timer');
ok(is_utc_time($v->{paid_at}), '... paid_at');
my $at = epoch_of($v->{paid_at} // '') // 0;
ok($at >= epoch_of('2026-07-16T22:00:00Z') && $at <= epoch_of('2026-07-16T22:00:05Z'),
   "... at 00:00 Paris time ($v->{paid_at})");
is($v->{amount}, 6550, '... the same amount');
is(ledger("merchant_pending:$pos->{id}"), 1000, 'the ledger: 10,00 still pending');
is(ledger("merchant_paid:$pos->{id}"), 6550, '... 65,50 paid');
($v) = grep { $_->{id} eq $p9->{id} } payouts($m->{token});
is($v->{status}, 'paid', 'the list shows it paid');
($v) = grep { $_->{id} eq $p10->{id} } payouts($m->{token});
is($v->{status}, 'scheduled', '... and 10 July\'s still scheduled');
ok(wait_until(5, sub {
       (api_as($mq->{token}, GET => "/api/v1/payouts/$pq->{id}")->{json}{status} // '') eq 'paid' }),
   'the spa\'s payout of 9 July is paid too');
is(ledger("merchant_paid:$posq->{id}"), 1200, '... its ledger');
$csv = api_as($m->{token}, GET => "/api/v1/payouts/$p9->{id}/export?format=csv");
like(Encode::decode('UTF-8', $csv->{raw}), qr/65,50/, 'the export, once paid, still adds up');

at('2026-07-19T21:59:00Z');
hold_clock('2026-07-19T21:59:58Z', 2.5);
is(api_as($m->{token}, GET => "/api/v1/payouts/$p10->{id}")->{json}{status}, 'scheduled',
   '10 July\'s payout: still scheduled on Sunday 19 July at 23:59:58');
set_clock('2026-07-19T22:00:00Z');
ok(wait_until(5, sub {
       (api_as($m->{token}, GET => "/api/v1/payouts/$p10->{id}")->{json}{status} // '') eq 'paid' }),
   '... paid at 00:00 on Monday 20 July');
is(ledger("merchant_pending:$pos->{id}"), 0, 'the ledger: nothing pending');
is(ledger("merchant_paid:$pos->{id}"), 7550, '... 75,50 paid');
is(scalar(payouts($m->{token})), 2, 'still two payouts (a payout is paid once)');

done_testing;
