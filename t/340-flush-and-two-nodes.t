# PostgreSQL is the truth, Redis only holds the timers due soon:
# (a) after a FLUSHALL a validation deadline still fires (the sweep brings
#     the timer back), with the test clock behind real time and ahead of it;
# (b) two nginx nodes on this machine share PostgreSQL and Redis (the
#     second with the same rendered configuration on another port, with its
#     own pid, logs and temp paths): ten requests expire at the same
#     instant, and each expires once (one 'expired' event) and each e-mail
#     is sent once (one file in mail/, one outbox row, one attempt).
use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use CvcTest;
use CvcNode;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('198.51.100.34');

my $node2;

END {
    local $?;
    $node2->stop if $node2;
}

sub status_of {
    psql('select status from cvc.payment_requests where id = ' . sql_quote($_[0]));
}

my $conv = new_convention(name => 'Gîtes de la Vallée');
my $pos = new_pos($conv, name => 'Gîtes de la Vallée');
my $ben = new_beneficiary(balance => 200_000);
my ($m, $c);
keep_logged_in(\$m => $pos, \$c => $ben);   # at() logs them in again

# ---- (a) FLUSHALL: the deadline still fires ----------------------------------------

# flushed($request, $deadline): the clock 3 s before the deadline; as soon as
# the sweep has put the timer in Redis, FLUSHALL
sub flushed {
    my ($p, $deadline, $what) = @_;
    at(utc_time(epoch_of($deadline) - 60));
    set_clock(utc_time(epoch_of($deadline) - 2));
    my $member = "deadline:$p->{id}";
    ok(wait_until(3, sub { redis_cli('zscore', 'cvc:timers', $member) =~ /\d/ }),
       "$what: the timer is in Redis before its time");
    redis_cli('flushall');
    is(redis_cli('zscore', 'cvc:timers', $member), '', '... FLUSHALL: gone');
    is(status_of($p->{id}), 'to_validate', '... the deadline has not passed yet');
}

at('2026-07-09T08:00:00Z');                 # behind real time
my $pa = new_request($m->{token}, customer => $ben->{id}, amount => 4000,
                     validation_delay_days => 1, on_validation_expiry => 'cancel');
is(pay_request($c->{token}, $pa->{id}, $ben->{payment_code})->{json}{status},
   'to_validate', 'a pre-reservation paid');
my $deadline = '2026-07-10T21:59:59Z';
flushed($pa, $deadline, 'the clock behind real time');
ok(wait_until(8, sub { status_of($pa->{id}) eq 'expired' }),
   'the deadline fires all the same (the sweep brought the timer back)');
is(psql('select count(*) from cvc.payment_request_events where type = \'expired\' '
        . 'and payment_request_id = ' . sql_quote($pa->{id})), 1, '... once');

at('2027-03-10T08:00:00Z');                 # ahead of real time
my $pb = new_request($m->{token}, customer => $ben->{id}, amount => 4000,
                     validation_delay_days => 1, on_validation_expiry => 'validate');
is(pay_request($c->{token}, $pb->{id}, $ben->{payment_code})->{json}{status},
   'to_validate', 'a pre-reservation paid in March 2027');
$deadline = '2027-03-11T22:59:59Z';
flushed($pb, $deadline, 'the clock ahead of real time');
my $fired = wait_until(8, sub { status_of($pb->{id}) eq 'validated' });
ok($fired, 'the deadline fires all the same: the test clock is PostgreSQL\'s too, '
           . 'and survives the flush');
unless ($fired) {
    # the clock set again (to where PostgreSQL has it) brings it back
    my $now = psql(q{select to_char(cvc.now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')});
    set_clock($now);
    ok(wait_until(8, sub { status_of($pb->{id}) eq 'validated' }),
       '... it fires once the clock is set again');
}

# what the timers sent in 2027 is delivered before the clock goes back
wait_until(5, sub { psql("select count(*) from cvc.outbox where sent_at is null "
                         . "and recipient = " . sql_quote($ben->{email})) == 0 });

# ---- (b) a second node -------------------------------------------------------------

my $run = $ENV{CVC_TEST_DIR};
$node2 = CvcNode->new(workers => 2);
unlike(join("\n", grep { !/^\s*#/ } split /\n/, $node2->conf), qr/\Q$run\E/,
       'the second node has nothing in the first one\'s folder');
ok($node2->start, 'the second nginx starts and answers on its own port');
my $url2 = $node2->url;
sub api2 {
    my ($method, $path, $body, %h) = @_;
    local $ENV{CVC_TEST_URL} = $url2;
    return api($method, $path, $body, xff(), %h);
}
is(api2(GET => '/api/v1/health')->{json}{status}, 'ok', 'its health: ok');

# ten requests, created on both nodes, the e-mails to the customer sent
at('2026-06-10T08:00:00Z');
my $m2 = do { local $ENV{CVC_TEST_URL} = $url2; merchant_login($pos->{id}, $pos->{password}) };
my (@prs, %notify);
for my $i (1 .. 10) {
    my $token = $i % 2 ? $m->{token} : $m2->{token};
    my $email = unique_email("notif$i");
    my $body = { mode => 'immediate', amount => 4000, customer => $ben->{id},
                 basket_number => unique_basket(), notify_email => $email };
    my $r = $i % 2 ? create_request($token, $body)
                   : api2(POST => '/api/v1/payment-requests', $body, auth_header($token));
    is($r->{status}, 201, "request $i created on node " . ($i % 2 ? 1 : 2));
    push @prs, $r->{json} // {};
    $notify{$r->{json}{id} // $i} = $email;
}
my $ids = join ',', map { sql_quote($_->{id}) } @prs;
ok(wait_until(10, sub {
       psql("select count(*) from cvc.outbox where kind = 'email' and sent_at is not null "
            . "and recipient = " . sql_quote($ben->{email}) . " and payload->>'id' in ($ids)")
           == 10 }),
   'the ten e-mails to the customer are sent');

# all of them due at the same instant
my ($last) = sort { $b cmp $a } map { $_->{pay_by} } @prs;
set_clock(utc_time(epoch_of($last) + 2));
ok(wait_until(10, sub {
       psql("select count(*) from cvc.payment_requests where status = 'expired' "
            . "and id in ($ids)") == 10 }),
   'all ten expire');
Time::HiRes::sleep(3);                      # time for a second firing, if any

my $events = psql_json("select payment_request_id as id, count(*) as n from "
                       . "cvc.payment_request_events where type = 'expired' and "
                       . "payment_request_id in ($ids) group by 1");
my %n = map { $_->{id} => $_->{n} } @$events;
is_deeply([map { $n{$_->{id}} // 0 } @prs], [(1) x 10], 'each has one expired event');

my @files = map { scalar(() = mails($notify{$_->{id}})) } @prs;
is_deeply(\@files, [(1) x 10], 'each merchant e-mail arrived once (one file each)');
my @wrong = grep { my $p = $_; my ($mail) = mails($notify{$p->{id}});
                   !$mail || ($mail->{text} // '') !~ /\Q$p->{basket_number}\E/ } @prs;
is(scalar @wrong, 0, '... each about its request');
my $rows = psql_json("select recipient, count(*) as n, count(sent_at) as sent, "
                     . "max(attempts) as attempts from cvc.outbox where recipient in ("
                     . join(',', map { sql_quote($_) } values %notify) . ") group by 1");
is(scalar @$rows, 10, '... one outbox row per request');
ok(!grep({ $_->{n} != 1 || $_->{sent} != 1 || $_->{attempts} != 1 } @$rows),
   '... each sent, in one attempt')
    or diag explain $rows;

my @cust = mails($ben->{email});
my %basket_count;
for my $mail (@cust) {
    $basket_count{$_->{basket_number}}++
        for grep { ($mail->{text} // '') =~ /\Q$_->{basket_number}\E/ } @prs;
}
is_deeply([map { $basket_count{$_->{basket_number}} // 0 } @prs], [(1) x 10],
          'the customer got each request\'s e-mail once');

# who did the work (for the record)
my $log2 = $node2->log;
my $fired2 = () = $log2 =~ /cvc timers: "[^"]+" fired|cvc outbox: \d+ delivered/g;
my $fired1 = () = error_log() =~ /cvc timers: "[^"]+" fired|cvc outbox: \d+ delivered/g;
diag "timers fired and deliveries: node 1 (since its start) $fired1, node 2 $fired2";

ok($node2->stop, 'the second nginx stops');
my @bad = $node2->bad_log;
is_deeply(\@bad, [], 'its error log has no alert, emerg or sanitizer report');
is(api(GET => '/api/v1/health')->{status}, 200, 'the first node goes on');

done_testing;
