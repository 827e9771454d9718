# The customer's history: GET /api/v1/customer/transactions (credits,
# payments negative, refunds positive, newest first, paged) and
# GET /api/v1/customer/notifications (a new request, a cancellation with
# the amount re-credited, a confirmation; French; newest first).
use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('192.0.2.226');

my $conv = new_convention(name => 'Les Thermes');
my $pos = new_pos($conv, name => 'Thermes du Lac',
                  category => 'sports_leisure');

# at($time): the clock there ($now its epoch), fresh sessions of the point
# of sale and (once there is one) of the customer
my ($m, $c, $ben, $now);
keep_logged_in(\$m => $pos, \$c => \$ben);
sub act { api_as($m->{token}, POST => "/api/v1/payment-requests/$_[1]/$_[0]") }
sub pay {
    my ($p) = @_;
    my $r = pay_request($c->{token}, $p->{id}, $ben->{payment_code});
    die "pay: $r->{status} $r->{raw}" unless $r->{status} == 200;
}

# Tuesday 7 April 2026, from 10:00 in Paris, one thing every few minutes
my %t;
$now = at('2026-04-07T08:00:00Z');
$ben = new_beneficiary(balance => 10_000);                $t{credit1} = $now;
my $ben2 = new_beneficiary(balance => 700);
$now = at('2026-04-07T08:05:00Z');
my $r1 = new_request($m->{token}, customer => $ben->{id}, amount => 4000);
$t{created1} = $now;
$now = at('2026-04-07T08:06:00Z');  pay($r1);             $t{paid1} = $now;
$now = at('2026-04-07T08:10:00Z');
my $r2 = new_request($m->{token}, customer => $ben->{email}, amount => 3000,
                     validation_delay_days => 2);
$t{created2} = $now;
$now = at('2026-04-07T08:11:00Z');  pay($r2);             $t{paid2} = $now;
$now = at('2026-04-07T08:15:00Z');
is(act(cancel => $r2->{id})->{json}{status}, 'cancelled',
   'a paid pre-reservation of 3000, cancelled by the merchant');
$t{cancelled2} = $now;
$now = at('2026-04-07T08:20:00Z');
my $r3 = new_request($m->{token}, customer => $ben->{id}, amount => 1000,
                     validation_delay_days => 1);
$t{created3} = $now;
$now = at('2026-04-07T08:21:00Z');  pay($r3);             $t{paid3} = $now;
$now = at('2026-04-07T08:25:00Z');
is(act(confirm => $r3->{id})->{json}{status}, 'validated',
   'a paid pre-reservation of 1000, confirmed');
$t{confirmed3} = $now;
$now = at('2026-04-07T08:30:00Z');
is(ops(POST => "/ops/v1/beneficiaries/$ben->{id}/credits", { amount => 500 },
       xff())->{status}, 201, 'a credit of 500');
$t{credit2} = $now;
is(customer_balance($c->{token}), 5500,
   'the balance: 10000 - 4000 - 3000 + 3000 - 1000 + 500 = 5500');

# ---- transactions ----------------------------------------------------------------------------

my $tx = '/api/v1/customer/transactions';
my $r = api_as($c->{token}, GET => $tx);
is($r->{status}, 200, 'GET /customer/transactions: 200');
is_deeply([sort keys %{ $r->{json} // {} }], [qw(data next_cursor)],
          '... {data, next_cursor}');
my $data = $r->{json}{data} // [];
is_deeply([sort keys %{ $data->[0] // {} }],
          [qw(amount at id merchant payment_request type)],
          '... each {id, type, amount, at, payment_request, merchant}');
my $name = $pos->{name};
is_deeply([map { [$_->{type}, $_->{amount}, $_->{payment_request},
                  $_->{merchant}] } @$data],
          [['credit', 500, undef, undef],
           ['payment', -1000, $r3->{id}, $name],
           ['refund', 3000, $r2->{id}, $name],
           ['payment', -3000, $r2->{id}, $name],
           ['payment', -4000, $r1->{id}, $name],
           ['credit', 10_000, undef, undef]],
          '... credit 500, payment -1000, refund +3000, payment -3000, '
          . 'payment -4000, credit 10000: newest first')
    or diag $r->{raw};
like($r->{raw}, qr/"amount"\s*:\s*-1000\b/, '... amounts are JSON numbers');
my $sum = 0;
$sum += $_->{amount} // 0 for @$data;
is($sum, 5500, '... which add up to the balance');
my @at = map { epoch_of($_->{at} // '') // 0 } @$data;
my @want = @t{qw(credit2 paid3 cancelled2 paid2 paid1 credit1)};
ok(!grep({ abs($at[$_] - $want[$_]) > 60 } 0 .. $#want),
   '... each at the time it happened (RFC 3339 UTC)')
    or diag join ', ', map { $_->{at} // 'none' } @$data;
my %ids = map { ($_->{id} // '') => 1 } @$data;
is(scalar keys %ids, 6, '... six distinct ids');

my @seen;
my $path = "$tx?limit=2";
my $pages = 0;
while ($pages < 10) {
    $r = api_as($c->{token}, GET => $path);
    if ($r->{status} != 200) { diag "$path: $r->{raw}"; last }
    $pages++;
    push @seen, map { $_->{id} } @{ $r->{json}{data} // [] };
    my $next = $r->{json}{next_cursor};
    last unless defined $next;
    $path = "$tx?limit=2&cursor=" . url_escape($next);
}
is($pages, 3, 'limit=2: three pages');
is_deeply(\@seen, [map { $_->{id} } @$data], '... the same six, in order');
for my $bad ('limit=0', 'limit=101', 'limit=x', 'cursor=garbage') {
    error_ok(api_as($c->{token}, GET => "$tx?$bad"), 400, 'invalid_parameter',
             "transactions ?$bad");
}

my $c2 = customer_login($ben2->{id}, $ben2->{password});
$r = api_as($c2->{token}, GET => $tx);
is_deeply([map { [$_->{type}, $_->{amount}] } @{ $r->{json}{data} // [] }],
          [['credit', 700]], 'another customer: its own credit only');
error_ok(call(GET => $tx), 401, 'unauthenticated', 'transactions without a session');
$r = api_as($m->{token}, GET => $tx);
ok($r->{status} == 401 || $r->{status} == 403,
   "a merchant's session: 401 or 403 (got $r->{status})");

# ---- notifications ---------------------------------------------------------------------------

my $nt = '/api/v1/customer/notifications';
$r = api_as($c->{token}, GET => $nt);
is($r->{status}, 200, 'GET /customer/notifications: 200');
is_deeply([sort keys %{ $r->{json} // {} }], [qw(data next_cursor)],
          '... {data, next_cursor}');
my $all = $r->{json}{data} // [];
is_deeply([sort keys %{ $all->[0] // {} }],
          [qw(amount created_at id message payment_request type)],
          '... each {id, type, message, payment_request, amount, created_at}');
my %known = map { $_ => 1 } qw(payment_request_created payment_request_cancelled
    payment_request_expired reservation_confirmed reservation_cancelled
    reservation_expired payment_received);
is_deeply([grep { !$known{$_} } map { $_->{type} // 'none' } @$all], [],
          '... of the types of docs/api-notes.md');
my @n = grep { $_->{type} =~ /^(payment_request_created|reservation_)/ } @$all;
is_deeply([map { [$_->{type}, $_->{payment_request}] } @n],
          [['reservation_confirmed', $r3->{id}],
           ['payment_request_created', $r3->{id}],
           ['reservation_cancelled', $r2->{id}],
           ['payment_request_created', $r2->{id}],
           ['payment_request_created', $r1->{id}]],
          '... a confirmation, a new request, a cancellation, two new '
          . 'requests: newest first') or diag $r->{raw};
my ($cancel) = grep { $_->{type} eq 'reservation_cancelled' } @n;
is($cancel->{amount}, 3000, 'the cancellation: amount 3000 (re-credited)');
like($cancel->{message} // '', qr/30,00/,
     '... its message gives the amount in French: 30,00');
for my $x (@n) {
    like($x->{message} // '', qr/\w.*\w/, "the message of $x->{type} is text");
    like($x->{message} // '',
         qr/demande|paiement|réservation|annul|confirm|rembours|crédit/i,
         '... in French');
    unlike($x->{message} // '', qr/\b(the|your|has been|request)\b/i,
           '... not in English');
}
@at = map { epoch_of($_->{created_at} // '') // 0 } @n;
@want = @t{qw(confirmed3 created3 cancelled2 created2 created1)};
ok(!grep({ abs($at[$_] - $want[$_]) > 60 } 0 .. $#want),
   '... each created when it happened (RFC 3339 UTC)')
    or diag join ', ', map { $_->{created_at} // 'none' } @n;

$r = api_as($c2->{token}, GET => $nt);
is_deeply($r->{json}{data}, [], 'another customer: no notification');
my $r4 = new_request($m->{token}, customer => $ben2->{id}, amount => 100);
$r = api_as($c2->{token}, GET => $nt);
is_deeply([map { [$_->{type}, $_->{payment_request}] } @{ $r->{json}{data} // [] }],
          [['payment_request_created', $r4->{id}]], '... until a request for it');
is(api_as($c->{token}, GET => "$nt?limit=1")->{json}{data}[0]{id}, $all->[0]{id},
   'limit=1: the newest');
error_ok(api_as($c->{token}, GET => "$nt?limit=0"), 400, 'invalid_parameter',
         'notifications ?limit=0');
error_ok(call(GET => $nt), 401, 'unauthenticated',
         'notifications without a session');

is(reset_clock(), 204, 'clock back to real time');

done_testing;
