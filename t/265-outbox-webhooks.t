# What a payment request writes to the outbox (cvc.outbox), in the
# transaction of each change: e-mails to the customer (request_to_pay,
# reservation_confirmed, reservation_cancelled) and to the merchant's
# notify_email (payment_paid, a refusal) when there is one, and webhook
# events (payment_request.created, .paid, .validated, .cancelled,
# .refused) in order, only where the point of sale has a webhook.
use strict;
use warnings;
use utf8;
use Test::More;
use JSON::PP ();
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('192.0.2.227');
reset_clock();

my $conv = new_convention(name => 'Golf des Pins');
my $posW = new_pos($conv, name => 'Golf, accueil', category => 'sports_leisure');
my $posN = new_pos($conv, name => 'Golf, bar', category => 'restaurants');
my $ben = new_beneficiary(balance => 100_000);
my $admin = merchant_login($conv->{id}, $conv->{password});
my $mW = merchant_login($posW->{id}, $posW->{password});
my $mN = merchant_login($posN->{id}, $posN->{password});
my $c = customer_login($ben->{id}, $ben->{password});
my $notify = unique_email('caisse');
my $hook_url = 'http://' . webhook_host() . ':9/cvc-hook-' . unique_digits(6);

my $r = api_as($admin->{token}, PUT => "/api/v1/points-of-sale/$posW->{id}/webhook",
               { url => $hook_url });
is($r->{status}, 200, 'a webhook for point of sale W');
remember_secret($r->{json}{secret}, 'webhook_secret');

sub rows {
    my ($id, $kind) = @_;
    return psql_json('select kind, recipient, template, payload from cvc.outbox '
                     . 'where kind = ' . sql_quote($kind) . ' and payload::text '
                     . 'like ' . sql_quote("%$id%") . ' order by id');
}
sub emails { [map { "$_->{template} to $_->{recipient}" } @{ rows($_[0], 'email') }] }
sub hooks { [map { $_->{template} } @{ rows($_[0], 'webhook') }] }
sub pay {
    my ($p, %more) = @_;
    my $r = pay_request($c->{token}, $p->{id}, $ben->{payment_code}, %more);
    die "pay: $r->{status} $r->{raw}" unless $r->{status} == 200;
    return $r->{json};
}
sub act { api_as($_[0], POST => "/api/v1/payment-requests/$_[2]/$_[1]")->{json} }

my $customer_mail = lc $ben->{email};

# ---- created, paid, confirmed --------------------------------------------------------------------

my $p1 = new_request($mW->{token}, customer => $ben->{id}, amount => 4000,
                     validation_delay_days => 2, notify_email => $notify);
is_deeply(emails($p1->{id}), ["request_to_pay to $customer_mail"],
          'created: an e-mail request_to_pay to the customer');
is_deeply(hooks($p1->{id}), ['payment_request.created'],
          '... and the webhook event payment_request.created');
my $rows = rows($p1->{id}, 'webhook');
my $ev = $rows->[0]{payload} // {};
ok(ref $ev eq 'HASH', 'the webhook row holds the event');
like($ev->{id} // '', qr/^evt_[0-9a-f]{32}\z/, '... id: evt_ and 32 hex digits');
is($ev->{type}, 'payment_request.created', '... type payment_request.created');
ok(is_utc_time($ev->{created_at}), '... created_at in RFC 3339 UTC');
is(ref $ev->{data} eq 'HASH' ? $ev->{data}{id} : undef, $p1->{id},
   '... data: the request');
is(eval { $ev->{data}{status} }, 'awaiting_payment', '... as it was then');
is(scalar @{ rows($p1->{id}, 'email') }, 1, '... one e-mail only');

pay($p1);
is_deeply(emails($p1->{id}), ["request_to_pay to $customer_mail",
                              "payment_paid to $notify"],
          'paid: an e-mail payment_paid to the notify_email');
is_deeply(hooks($p1->{id}), [qw(payment_request.created payment_request.paid)],
          '... and payment_request.paid');
act($mW->{token}, confirm => $p1->{id});
is_deeply(emails($p1->{id}), ["request_to_pay to $customer_mail",
                              "payment_paid to $notify",
                              "reservation_confirmed to $customer_mail"],
          'confirmed: an e-mail reservation_confirmed to the customer');
is_deeply(hooks($p1->{id}), [qw(payment_request.created payment_request.paid
                                payment_request.validated)],
          '... and payment_request.validated, in order');
$rows = rows($p1->{id}, 'webhook');
is_deeply([map { eval { $_->{payload}{data}{status} } // 'none' } @$rows],
          [qw(awaiting_payment to_validate validated)],
          '... each with the request as it was then');
my %evt = map { (eval { $_->{payload}{id} } // '') => 1 } @$rows;
is(scalar keys %evt, 3, '... three distinct event ids');

# ---- created, paid, cancelled ---------------------------------------------------------------------

my $p2 = new_request($mW->{token}, customer => $ben->{email}, amount => 2000,
                     validation_delay_days => 1, notify_email => $notify);
pay($p2);
act($admin->{token}, cancel => $p2->{id});
is_deeply(emails($p2->{id}), ["request_to_pay to $customer_mail",
                              "payment_paid to $notify",
                              "reservation_cancelled to $customer_mail"],
          'paid then cancelled: request_to_pay, payment_paid, '
          . 'reservation_cancelled (to the customer)');
is_deeply(hooks($p2->{id}), [qw(payment_request.created payment_request.paid
                                payment_request.cancelled)],
          '... webhooks created, paid, cancelled');
$rows = rows($p2->{id}, 'webhook');
is(eval { $rows->[2]{payload}{data}{amount_refunded} }, 2000,
   '... the cancelled event shows the refund');

# ---- created, refused ----------------------------------------------------------------------------

my $p3 = new_request($mW->{token}, customer => $ben->{id}, amount => 900,
                     notify_email => $notify);
api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$p3->{id}/refuse");
is_deeply(hooks($p3->{id}), [qw(payment_request.created payment_request.refused)],
          'refused: webhooks created, refused');
my @to_merchant = grep { /to \Q$notify\E\z/ } @{ emails($p3->{id}) };
is(scalar @to_merchant, 1, '... and an e-mail to the notify_email')
    or diag explain emails($p3->{id});

# ---- paid without a delay --------------------------------------------------------------------------

my $p4 = new_request($mW->{token}, customer => $ben->{id}, amount => 300,
                     notify_email => $notify);
pay($p4);
my $h4 = hooks($p4->{id});
is_deeply([@$h4[0, 1]], [qw(payment_request.created payment_request.paid)],
          'paid without a delay: webhooks created, paid ...');
is_deeply([grep { !/^payment_request\.(created|paid|validated)\z/ } @$h4], [],
          '... and at most validated after them') or diag explain $h4;
is_deeply(emails($p4->{id}), ["request_to_pay to $customer_mail",
                              "payment_paid to $notify"],
          '... e-mails request_to_pay and payment_paid');

# ---- no notify_email, no webhook -------------------------------------------------------------------

my $before = psql(q{select count(*) from cvc.outbox where template = 'payment_paid'});
my $p5 = new_request($mN->{token}, customer => $ben->{id}, amount => 500,
                     validation_delay_days => 1, notify_email => undef);
pay($p5);
is_deeply(emails($p5->{id}), ["request_to_pay to $customer_mail"],
          'notify_email null: paid, no e-mail to the merchant');
is(psql(q{select count(*) from cvc.outbox where template = 'payment_paid'}),
   $before, '... no payment_paid e-mail at all');
is_deeply(hooks($p5->{id}), [], 'a point of sale without a webhook: no event');
act($mN->{token}, confirm => $p5->{id});
is_deeply(emails($p5->{id}), ["request_to_pay to $customer_mail",
                              "reservation_confirmed to $customer_mail"],
          '... confirmed: the customer still gets reservation_confirmed');
is_deeply(hooks($p5->{id}), [], '... and still no event');

# the remembered notify_email is the one written to
my $kept = unique_email('kept');
new_request($mN->{token}, customer => $ben->{id}, amount => 100,
            notify_email => $kept, remember_notify_email => JSON::PP::true);
my $p6 = new_request($mN->{token}, customer => $ben->{id}, amount => 600);
is($p6->{notify_email}, $kept, 'a request with the remembered notify_email');
pay($p6);
is_deeply(emails($p6->{id}), ["request_to_pay to $customer_mail",
                              "payment_paid to $kept"],
          '... paid: payment_paid to it');

# a webhook removed: no more events
is(api_as($admin->{token}, DELETE => "/api/v1/points-of-sale/$posW->{id}/webhook")
       ->{status}, 204, 'the webhook of W removed');
my $p7 = new_request($mW->{token}, customer => $ben->{id}, amount => 700);
pay($p7);
is_deeply(hooks($p7->{id}), [], '... then no event for a new request');

done_testing;
