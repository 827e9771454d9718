# Timers at their exact boundaries, with the test clock: an immediate
# request's 15 minutes, a deferred request's pay_by (the end of that day in
# Europe/Paris, summer and winter), a pre-reservation's validation deadline
# across a weekend and a French public holiday (14 July), the deadline's
# two outcomes (cancel: expired and re-credited; validate: validated), and
# the reminder 24 hours before, exactly once. One second before: nothing
# happens, however long the timers run; one second after: it happens, with
# its e-mail and the customer's notification.
use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('198.51.100.30');

my $conv = new_convention(name => 'Camping Les Mûriers');
my $pos = new_pos($conv, name => 'Camping Les Mûriers — accueil');

# at($time): the clock there, fresh sessions (15 min idle on the test
# clock) of the point of sale and of the customer $who
my ($m, $c, $who);
keep_logged_in(\$m => $pos, \$c => \$who);
sub req { new_request($m->{token}, customer => $who->{id}, @_) }
sub pay { pay_request($c->{token}, $_[0], $who->{payment_code}) }
sub view { get_request($m->{token}, $_[0])->{json} // {} }
sub events_of {
    my ($id, $type) = @_;
    return grep { $_->{type} eq $type } @{ view($id)->{events} // [] };
}
sub notifications {
    my $r = api_as($c->{token}, GET => '/api/v1/customer/notifications?limit=100');
    return @{ $r->{json}{data} // [] };
}
sub near {
    my ($time, $epoch, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(is_utc_time($time), "$name: RFC 3339 UTC") or return;
    cmp_ok(abs(epoch_of($time) - $epoch), '<=', 5,
           "$name: $time, near " . utc_time($epoch));
}

# ---- an immediate request: pay_by = created_at + 15 minutes --------------------------

my $ben = new_beneficiary(balance => 100_000);
my $notify = unique_email('notif-a');
$who = $ben;
at('2026-06-10T10:00:00Z');                # Wednesday, 12:00 in Paris
my $p = req(amount => 4000, notify_email => $notify);
my $pay_by = epoch_of($p->{pay_by} // '') // 0;
near($p->{pay_by}, epoch_of('2026-06-10T10:15:00Z'), 'immediate: pay_by is 15 minutes on');

at(utc_time($pay_by - 60));                # (logins take a while: before)
hold_clock(utc_time($pay_by - 1), 2.5);
my $v = view($p->{id});
is($v->{status}, 'awaiting_payment',
   'one second before pay_by, after the timers ran: still awaiting_payment');
is($v->{expired_at}, undef, '... no expired_at');
is(scalar(events_of($p->{id}, 'expired')), 0, '... no expired event');
is(scalar(mails($notify)), 0, '... no e-mail to the merchant');

set_clock(utc_time($pay_by + 1));
ok(wait_status($m->{token}, $p->{id}, 'expired', 5),
   'one second after pay_by: expired (by the timer, no call made)');
$v = view($p->{id});
near($v->{expired_at}, $pay_by + 1, '... expired_at');
is($v->{last_action_at}, $v->{expired_at}, '... the last action');
is($v->{amount_received}, undef, '... nothing received');
my @ev = events_of($p->{id}, 'expired');
is(scalar @ev, 1, '... one expired event');
is($ev[0]{actor}, 'system', '... by the system');

my @mail = wait_mails($notify, 1, 5);
is(scalar @mail, 1, '... one e-mail to the notify_email');
like($mail[0]{headers}{to} // '', qr/\Q$notify\E/, '... addressed to it');
like($mail[0]{text} // '', qr/\Q$p->{basket_number}\E/, '... with the basket number');
like($mail[0]{text} // '', qr/40,00\x{a0}?\s?€/, '... and the amount, 40,00 €');
like(($mail[0]{subject} // '') . ' ' . ($mail[0]{text} // ''), qr/expir/i,
     '... saying it expired');

my ($note) = grep { ($_->{payment_request} // '') eq $p->{id} && $_->{type} =~ /expired/ }
             notifications();
ok($note, 'the customer has a notification of the expiry');
is($note->{type}, 'payment_request_expired', '... payment_request_expired') if $note;
like($note->{message} // '', qr/\Q$p->{basket_number}\E/, '... naming the basket') if $note;

my $r = pay($p->{id});
error_ok($r, 409, 'invalid_state', 'paying an expired request');

# ---- a deferred request: until 23:59:59 in Paris on pay_by (summer, UTC+2) ----------

at('2026-06-10T10:00:00Z');
$p = req(mode => 'deferred', pay_by => '2026-06-12', amount => 4000,
         notify_email => $notify);
my $p2 = req(mode => 'deferred', pay_by => '2026-06-12', amount => 1500);
is($p->{pay_by}, '2026-06-12T21:59:59Z', 'deferred: pay_by is 23:59:59 Paris time, in UTC');

at('2026-06-12T21:59:00Z');
hold_clock('2026-06-12T21:59:58Z', 2.5);
is(view($p->{id})->{status}, 'awaiting_payment',
   'at 23:59:58 Paris time: still awaiting_payment');
set_clock('2026-06-12T21:59:58Z');
$r = pay($p2->{id});
is($r->{status}, 200, '... and it can still be paid');
is($r->{json}{status}, 'validated', '... validated');

my $mails_before = () = mails($notify);
set_clock('2026-06-12T22:00:00Z');
ok(wait_status($m->{token}, $p->{id}, 'expired', 5),
   'at 00:00 Paris time the next day (22:00 UTC): expired');
near(view($p->{id})->{expired_at}, epoch_of('2026-06-12T22:00:00Z'), '... expired_at');
is(view($p2->{id})->{status}, 'validated', '... the paid one is not touched');
@mail = wait_mails($notify, $mails_before + 1, 5);
is(scalar @mail, $mails_before + 1, '... one more e-mail to the merchant');
like($mail[-1]{text} // '', qr/\Q$p->{basket_number}\E/, '... about that basket');

# ---- a pre-reservation: the deadline across a weekend and 14 July -------------------

my $ben_c = new_beneficiary(balance => 50_000);
my $ben_d = new_beneficiary(balance => 50_000);
my $notify_c = unique_email('notif-c');
my $notify_d = unique_email('notif-d');

$who = $ben_c;
at('2026-07-09T08:00:00Z');                # Thursday, 10:00 in Paris
my $pc = req(amount => 4000, validation_delay_days => 3,
             on_validation_expiry => 'cancel', notify_email => $notify_c);
$r = pay($pc->{id});
is($r->{status}, 200, 'a 3-day pre-reservation paid on Thursday 9 July');
is($r->{json}{status}, 'to_validate', '... to_validate');
is($r->{json}{validation_deadline}, '2026-07-15T21:59:59Z',
   '... deadline Wednesday 15 July 23:59:59 Paris (Fri 10, Mon 13, Wed 15: '
   . 'not the weekend, not 14 July)');
is(customer_balance($c->{token}), 46_000, '... the wallet debited');
is(scalar(wait_mails($notify_c, 1, 5)), 1, '... the merchant told of the payment');

$who = $ben_d;
at('2026-07-10T08:00:00Z');                # Friday
my $pd = req(amount => 2500, validation_delay_days => 1,
             on_validation_expiry => 'validate', notify_email => $notify_d);
$r = pay($pd->{id});
is($r->{json}{validation_deadline}, '2026-07-13T21:59:59Z',
   'a 1-day pre-reservation paid on Friday: deadline Monday 23:59:59 Paris');

# on_validation_expiry = validate
at('2026-07-13T21:59:00Z');
hold_clock('2026-07-13T21:59:58Z', 2.5);
is(view($pd->{id})->{status}, 'to_validate',
   'validate on expiry: one second before the deadline, still to_validate');
set_clock('2026-07-13T22:00:00Z');
ok(wait_status($m->{token}, $pd->{id}, 'validated', 5),
   '... one second after: validated');
$v = view($pd->{id});
near($v->{validated_at}, epoch_of('2026-07-13T22:00:00Z'), '... validated_at');
is($v->{amount_refunded}, 0, '... nothing refunded');
@ev = events_of($pd->{id}, 'validated');
is(scalar @ev, 1, '... one validated event');
is($ev[0]{actor}, 'system', '... by the system') if @ev;
is(customer_balance($c->{token}), 47_500, '... the customer stays debited');
ok((grep { ($_->{payment_request} // '') eq $pd->{id}
           && $_->{type} eq 'reservation_confirmed' } notifications()),
   '... the customer is told the reservation is confirmed');
is(scalar(events_of($pd->{id}, 'reminder_sent')), 1,
   '... its reminder was sent on the way, once');

# the reminder, 24 hours before 15 July 23:59:59 Paris
$who = $ben_c;
at('2026-07-14T21:59:00Z');
hold_clock('2026-07-14T21:59:58Z', 2.5);
is(scalar(events_of($pc->{id}, 'reminder_sent')), 0,
   'one second before deadline - 24 h: no reminder');
is(scalar(mails($notify_c)), 1, '... no reminder e-mail');

set_clock('2026-07-14T22:00:00Z');
ok(wait_until(5, sub { events_of($pc->{id}, 'reminder_sent') }),
   'one second after deadline - 24 h: the reminder is sent');
@mail = wait_mails($notify_c, 2, 5);
is(scalar @mail, 2, '... one reminder e-mail to the notify_email');
my $text = $mail[-1]{text} // '';
like($text, qr/\Q$pc->{basket_number}\E/, '... about that basket');
like($text, qr{15/07/2026|15 juillet 2026}, '... with the deadline date, in French');
like($text, qr/23\s?h\s?59|23:59/, '... and its time, Paris time');
like($text, qr/40,00\x{a0}?\s?€/, '... and the amount, 40,00 €');
is(view($pc->{id})->{status}, 'to_validate', '... still to_validate');

hold_clock('2026-07-15T10:00:00Z', 1.5);
at('2026-07-15T21:59:00Z');
hold_clock('2026-07-15T21:59:58Z', 2.5);
is(scalar(events_of($pc->{id}, 'reminder_sent')), 1,
   'the clock moved on: still one reminder_sent event');
is(scalar(mails($notify_c)), 2, '... and one reminder e-mail');
is(view($pc->{id})->{status}, 'to_validate',
   'cancel on expiry: one second before the deadline, still to_validate');
is(customer_balance($c->{token}), 46_000, '... the customer still debited');

set_clock('2026-07-15T22:00:00Z');
ok(wait_status($m->{token}, $pc->{id}, 'expired', 5),
   '... one second after: expired');
$v = view($pc->{id});
near($v->{expired_at}, epoch_of('2026-07-15T22:00:00Z'), '... expired_at');
is($v->{amount_refunded}, 4000, '... amount_refunded 4000');
is(customer_balance($c->{token}), 50_000, '... the customer re-credited at once');
is(scalar(events_of($pc->{id}, 'expired')), 1, '... one expired event');
is(scalar(events_of($pc->{id}, 'reminder_sent')), 1, '... and still one reminder');
($note) = grep { ($_->{payment_request} // '') eq $pc->{id}
                 && $_->{type} eq 'reservation_expired' } notifications();
ok($note, '... the customer has a notification of the expiry');
is($note->{amount}, 4000, '... with the amount re-credited') if $note;
@mail = wait_mails($notify_c, 3, 5);
is(scalar @mail, 3, '... the merchant is told it expired');
my @cmail = grep { ($_->{text} // '') =~ /\Q$pc->{basket_number}\E/ }
            wait_mails($ben_c->{email}, 2, 5);
ok(@cmail >= 2, '... the customer too (the request, then the expiry)');
like($cmail[-1]{text} // '', qr/40,00\x{a0}?\s?€/, '... with the amount re-credited')
    if @cmail;
$r = api_as($m->{token}, POST => "/api/v1/payment-requests/$pc->{id}/confirm");
error_ok($r, 409, 'invalid_state', 'confirming after the deadline');

# ---- a deferred request in winter (UTC+1) ---------------------------------------------

$who = $ben;
at('2026-12-01T10:00:00Z');
$p = req(mode => 'deferred', pay_by => '2026-12-04', amount => 4000,
         notify_email => $notify);
is($p->{pay_by}, '2026-12-04T22:59:59Z', 'winter: pay_by is 23:59:59 Paris = 22:59:59 UTC');
at('2026-12-04T22:59:00Z');
hold_clock('2026-12-04T22:59:58Z', 2.5);
is(view($p->{id})->{status}, 'awaiting_payment', '... one second before: awaiting_payment');
set_clock('2026-12-04T23:00:00Z');
ok(wait_status($m->{token}, $p->{id}, 'expired', 5), '... one second after: expired');

done_testing;
