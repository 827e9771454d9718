# Webhooks, received by a real HTTP server of this test (forked, on a free
# loopback port) that checks every Cvc-Signature and records what it got:
# it answers 500 to the first two attempts and lets the third time out
# (answers after 16 s), then 200. Every event arrives at least once, in
# order per payment request (an event only after the one before it was
# delivered), signed with a fresh t; the delivery list shows the attempts,
# statuses and last answers; the retry endpoint sends one again; a
# receiver that keeps failing is still tried after 24 hours; a payout's
# payout.paid event.
use strict;
use warnings;
use utf8;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Digest::SHA qw(hmac_sha256_hex);
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('198.51.100.32');

my $JSON = JSON::PP->new->utf8->canonical;
my $dir = File::Temp->newdir('cvc-hook-XXXXXX', TMPDIR => 1);
my $received = "$dir/received.jsonl";
my $receiver_pid;

END {
    local $?;
    kill 'KILL', -$receiver_pid if $receiver_pid;   # its process group
}

# ---- the receiver ---------------------------------------------------------------------

my $srv = IO::Socket::INET->new(LocalAddr => webhook_host(), LocalPort => 0,
                                Proto => 'tcp', Listen => 64, ReuseAddr => 1)
    or die "listen: $!";
my $url = 'http://' . webhook_host() . ':' . $srv->sockport . '/hooks/cvc';

# one connection: read the request, check the signature, answer as planned
# (500 for the 1st and 2nd, 16 s of silence for the 3rd, 503 while
# $dir/fail exists, else 200), record it as one JSON line
sub serve {
    my ($conn, $n, $secret) = @_;
    my %rec = (n => $n, at => Time::HiRes::time());
    my ($head, $body) = ('', '');
    my $ok = eval {
        local $SIG{ALRM} = sub { die "read timeout\n" };
        alarm 10;
        my $buf = '';
        while ($buf !~ /\r\n\r\n/) {
            sysread($conn, $buf, 65536, length $buf) or die "eof in head\n";
        }
        ($head, $body) = split /\r\n\r\n/, $buf, 2;
        my ($len) = $head =~ /^Content-Length:\s*(\d+)\r?$/mi;
        syswrite $conn, "HTTP/1.1 100 Continue\r\n\r\n"
            if $head =~ /^Expect:\s*100-continue\r?$/mi;
        while (length $body < ($len // 0)) {
            sysread($conn, $body, 65536, length $body) or die "eof in body\n";
        }
        alarm 0;
        1;
    };
    $rec{error} = $@ unless $ok;
    ($rec{method}, $rec{path}) = $head =~ /^(\S+) (\S+) HTTP/;
    ($rec{content_type}) = $head =~ /^Content-Type:\s*(.*?)\r?$/mi;
    ($rec{signature}) = $head =~ /^Cvc-Signature:\s*(.*?)\r?$/mi;
    $rec{body} = $body;
    my ($t, $v1) = ($rec{signature} // '') =~ /^t=(\d+),v1=([0-9a-f]{64})\z/;
    $rec{t} = $t;
    $rec{valid} = (defined $t && hmac_sha256_hex("$t.$body", $secret) eq $v1)
                  ? 1 : 0;
    $rec{status} = -e "$dir/fail" ? 503 : $n <= 2 ? 500 : 200;
    local $SIG{PIPE} = 'IGNORE';
    if ($n == 3) {
        $rec{slow} = 1;
        sleep 16;
        my $sel = IO::Select->new($conn);
        $rec{client_gone} = ($sel->can_read(0)
                             && !sysread($conn, my $x, 1)) ? 1 : 0;
    }
    my $reason = $rec{status} == 200 ? 'OK' : 'Server Error';
    syswrite $conn, "HTTP/1.1 $rec{status} $reason\r\nContent-Type: text/plain\r\n"
                    . "Content-Length: 2\r\nConnection: close\r\n\r\nok";
    close $conn;
    open my $fh, '>>', $received or return;
    syswrite $fh, $JSON->encode(\%rec) . "\n";
    close $fh;
}

sub start_receiver {
    my ($secret) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDOUT, '>', '/dev/null';
        open STDERR, '>>', "$dir/receiver.log";
        $SIG{CHLD} = 'IGNORE';
        my $n = 0;
        while (1) {
            my $conn = $srv->accept or next;
            $n++;
            my $kid = fork;
            if (defined $kid && $kid == 0) {
                close $srv;
                serve($conn, $n, $secret);
                POSIX::_exit(0);
            }
            close $conn;
        }
    }
    close $srv;
    return $pid;
}

# what the receiver got: records, oldest first, with the body decoded
sub got {
    open my $fh, '<', $received or return ();
    my @out;
    while (my $line = <$fh>) {
        my $r = eval { $JSON->decode($line) } or next;
        $r->{json} = eval { JSON::PP->new->decode($r->{body}) };
        push @out, $r;
    }
    return sort { $a->{at} <=> $b->{at} } @out;
}

# ---- the merchant, its webhook, a customer --------------------------------------------

my $conv = new_convention(name => 'Village Vacances Les Genêts');
my $pos = new_pos($conv, name => 'Les Genêts — accueil');
my $ben = new_beneficiary(balance => 100_000);
my ($m, $c);
keep_logged_in(\$m => $pos, \$c => $ben);   # at() logs them in again
at('2026-06-10T08:00:00Z');                 # Wednesday, 10:00 in Paris

my $r = api_as($m->{token}, PUT => "/api/v1/points-of-sale/$pos->{id}/webhook",
               { url => $url });
is($r->{status}, 200, 'the webhook is set');
my $secret = remember_secret($r->{json}{secret}, 'webhook_secret');
$receiver_pid = start_receiver($secret);

sub req { new_request($m->{token}, customer => $ben->{id}, amount => 4000, @_) }
sub pay { pay_request($c->{token}, $_[0], $ben->{payment_code}) }
sub act { api_as($m->{token}, POST => "/api/v1/payment-requests/$_[0]/$_[1]") }
sub deliveries {
    my $r = api_as($m->{token}, GET => "/api/v1/points-of-sale/$pos->{id}/webhook/deliveries");
    return @{ $r->{json}{data} // [] };
}

my %want;                                   # request id -> the event types, in order
my $r1 = req();
pay($r1->{id});
$want{$r1->{id}} = [qw(created paid validated)];
my $r2 = req(validation_delay_days => 1);
pay($r2->{id});
act($r2->{id}, 'confirm');
$want{$r2->{id}} = [qw(created paid validated)];
my $r3 = req();
api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$r3->{id}/refuse");
$want{$r3->{id}} = [qw(created refused)];
my $r4 = req();
act($r4->{id}, 'cancel');
$want{$r4->{id}} = [qw(created cancelled)];
my $r6 = req(validation_delay_days => 1, on_validation_expiry => 'cancel');
pay($r6->{id});                             # left to run: reminder, then expiry
is_deeply([map { get_request($m->{token}, $_)->{json}{status} }
           $r1->{id}, $r2->{id}, $r3->{id}, $r4->{id}, $r6->{id}],
          [qw(validated validated refused cancelled to_validate)],
          'five requests went through their life cycles');

# ---- failures: 500, 500, a time-out ---------------------------------------------------

ok(wait_until(8, sub { grep { ($_->{last_status} // 0) == 500 } deliveries() }),
   'the first attempts were answered 500');
my ($failed) = grep { ($_->{last_status} // 0) == 500 } deliveries();
if ($failed) {
    is($failed->{status}, 'retrying', 'a failed delivery: retrying');
    cmp_ok($failed->{attempts}, '>=', 1, '... with its attempts');
    like($failed->{last_error} // '', qr/\S/, '... the last error');
    is($failed->{delivered_at}, undef, '... not delivered');
    my $wait = (epoch_of($failed->{next_attempt_at} // '') // 0)
               - (epoch_of($failed->{created_at} // '') // 0);
    cmp_ok($wait, '>=', 20, "... the next attempt later (back-off: ${wait} s)");
    is($failed->{url}, $url, '... to the webhook URL');
    like($failed->{event} // '', qr/^evt_[0-9a-f]{32}\z/, '... its event id');
}
my @d = deliveries();
is_deeply([grep { !/^(?:id|event|type|url|created_at|attempts|status|last_status|last_error|delivered_at|next_attempt_at)\z/ }
           map { keys %$_ } @d], [], 'deliveries: the members of the contract');
ok((grep { $_->{status} eq 'pending' && $_->{attempts} == 0 } @d),
   'a later event of a request waits for the one before it (pending)');

my $slow;
ok(wait_until(20, sub {
       ($slow) = grep { ($_->{last_error} // '') =~ /time/i } deliveries();
       $slow }),
   'the silent receiver: the attempt times out');
is($slow->{status}, 'retrying', '... and is retried') if $slow;

# the clock moves past the back-off, step by step, until all is delivered
sub push_clock {
    my ($step, $rounds) = @_;
    for (1 .. $rounds) {
        return 1 unless grep { $_->{status} ne 'delivered' } deliveries();
        set_clock(utc_time(time_now() + $step));
        $m = merchant_login($pos->{id}, $pos->{password});
        wait_until(4, sub { !grep { $_->{status} ne 'delivered' } deliveries() });
    }
    return !grep { $_->{status} ne 'delivered' } deliveries();
}
# the test clock's now, in seconds
sub time_now { psql('select extract(epoch from cvc.now())::bigint') }
ok(push_clock(150, 6), 'past the back-off: every event delivered');
ok(wait_until(12, sub { grep { $_->{slow} } got() }),
   'the silent receiver has answered (too late) by now');

# ---- what arrived ------------------------------------------------------------------------

my @got = got();
my @bad = grep { !$_->{valid} } @got;
is(scalar @bad, 0, 'every request has a valid Cvc-Signature');
diag explain [map { $_->{signature} } @bad] if @bad;
ok(!grep({ abs($_->{at} - ($_->{t} // 0)) > 300 } @got),
   'every signature\'s t within 300 s of the receiver\'s clock');
ok(!grep({ ($_->{method} // '') ne 'POST' || ($_->{path} // '') ne '/hooks/cvc' } @got),
   'POST to the URL');
ok(!grep({ ($_->{content_type} // '') !~ m{^application/json} } @got),
   'Content-Type: application/json');
my ($timed_out) = grep { $_->{slow} } @got;
ok($timed_out && $timed_out->{client_gone},
   'the gateway gave up on the silent receiver before 16 s (a 15 s time-out)');

my %types = map { $_ => 1 } qw(payment_request.created payment_request.paid
    payment_request.validated payment_request.cancelled payment_request.expired
    payment_request.refused payment_request.validation_reminder payout.paid);
my @bodies = map { $_->{json} } @got;
ok(!grep({ ref $_ ne 'HASH' } @bodies), 'every body is a JSON object');
@bodies = grep { ref $_ eq 'HASH' } @bodies;
is_deeply([sort keys %{ { map { $_ => 1 } map { keys %$_ } @bodies } }],
          [qw(created_at data id type)], 'bodies: id, type, created_at, data');
ok(!grep({ ($_->{id} // '') !~ /^evt_[0-9a-f]{32}\z/ } @bodies), 'ids evt_<32 hex>');
ok(!grep({ !$types{$_->{type} // ''} } @bodies), 'types of the contract');
ok(!grep({ !is_utc_time($_->{created_at}) } @bodies), 'created_at RFC 3339 UTC');
my @members_missing = map { my $d = $_->{data}; grep { !exists $d->{$_} } pr_members() }
                      grep { ($_->{type} // '') =~ /^payment_request\./ } @bodies;
is_deeply(\@members_missing, [], 'data: the payment request, every member');

# the same event, attempted again, is the same body
my %body_of;
my $same = 1;
for my $g (@got) {
    my $id = $g->{json} && $g->{json}{id} or next;
    $same = 0 if defined $body_of{$id} && $body_of{$id} ne $g->{body};
    $body_of{$id} //= $g->{body};
}
ok($same, 'an event sent again has the same body (its id for de-duplication)');

# each request's events, in order, each only after the one before was delivered
my @deliv = deliveries();
my %delivery_of = map { ($_->{event} // '') => $_ } @deliv;
for my $pr (sort keys %want) {
    my @mine = grep { ($_->{json}{data}{id} // '') eq $pr
                      && ($_->{json}{type} // '') =~ /^payment_request\./ } @got;
    my @ids;
    for my $g (sort { $delivery_of{$a->{json}{id}}{id} <=> $delivery_of{$b->{json}{id}}{id} }
               grep { $delivery_of{$_->{json}{id}} } @mine) {
        push @ids, $g->{json}{id} unless grep { $_ eq $g->{json}{id} } @ids;
    }
    my %type_of = map { $_->{json}{id} => $_->{json}{type} } @mine;
    is_deeply([map { $type_of{$_} =~ s/^payment_request\.//r } @ids], $want{$pr},
              "$pr: @{ $want{$pr} }, each at least once");
    my $in_order = 1;
    for my $k (0 .. $#ids - 1) {
        my ($ok) = grep { $_->{json}{id} eq $ids[$k] && $_->{status} == 200 && !$_->{slow} }
                   @mine;
        my @next = grep { $_->{json}{id} eq $ids[$k + 1] } @mine;
        $in_order = 0 if !$ok || grep { $_->{at} < $ok->{at} } @next;
    }
    ok($in_order, "$pr: each event only after the one before it was delivered");
}

my %tries;
$tries{$_->{json}{id}}++ for grep { $_->{json} } @got;
my @diff = map { "$_->{type} $_->{event}: list $_->{attempts}, received "
                 . ($tries{$_->{event}} // 0) }
           grep { $_->{attempts} != ($tries{$_->{event}} // 0) } @deliv;
is_deeply(\@diff, [], 'the list\'s attempts are the attempts the receiver saw');
ok(!grep({ $_->{status} ne 'delivered' || !is_utc_time($_->{delivered_at})
           || defined $_->{next_attempt_at} || ($_->{last_status} // 0) != 200 } @deliv),
   'all delivered: delivered_at, last_status 200, no next attempt');
ok((grep { $_->{attempts} >= 2 } @deliv), 'some took several attempts');

# ---- the retry endpoint --------------------------------------------------------------

my ($first) = grep { $_->{type} eq 'payment_request.created' } reverse @deliv;
my $before = () = grep { ($_->{json}{id} // '') eq $first->{event} } got();
$r = api_as($m->{token}, POST => "/api/v1/points-of-sale/$pos->{id}/webhook/deliveries/$first->{id}/retry");
ok($r->{status} >= 200 && $r->{status} < 300, "retry a delivered event: $r->{status}");
ok(wait_until(6, sub { (() = grep { ($_->{json}{id} // '') eq $first->{event} } got()) > $before }),
   '... the receiver gets it again');
my ($again) = grep { ($_->{json}{id} // '') eq $first->{event} } reverse got();
ok($again && $again->{valid}, '... signed') if $again;
ok(wait_until(4, sub { my ($d) = grep { $_->{id} eq $first->{id} } deliveries();
                       $d && $d->{status} eq 'delivered' && $d->{attempts} == $first->{attempts} + 1 }),
   '... the list shows one more attempt, delivered');
error_ok(api_as($m->{token}, POST => "/api/v1/points-of-sale/$pos->{id}/webhook/deliveries/999999999/retry"),
         404, 'not_found', 'retry an unknown delivery');
my $other = new_convention();
my $opos = new_pos($other);
my $om = merchant_login($other->{id}, $other->{password});
error_ok(api_as($om->{token}, GET => "/api/v1/points-of-sale/$pos->{id}/webhook/deliveries"),
         404, 'not_found', 'another merchant\'s deliveries');
error_ok(api_as($om->{token}, POST => "/api/v1/points-of-sale/$pos->{id}/webhook/deliveries/$first->{id}/retry"),
         404, 'not_found', 'another merchant\'s retry');

# ---- a receiver down for a day ----------------------------------------------

open my $f, '>', "$dir/fail" or die;
close $f;
my $r5 = req();
my $ev5;
ok(wait_until(6, sub {
       my ($g) = grep { ($_->{json}{data}{id} // '') eq $r5->{id} } got() or return;
       ($ev5) = grep { $_->{event} eq $g->{json}{id} } deliveries();
       $ev5 && ($ev5->{last_status} // 0) == 503 }),
   'a receiver that answers 503: the event is retrying');
$ev5 //= {};
is($ev5->{status}, 'retrying', '... retrying');
my $gap1 = epoch_of($ev5->{next_attempt_at} // '') - time_now();
set_clock(utc_time(epoch_of($ev5->{next_attempt_at} // '') + 1));
$m = merchant_login($pos->{id}, $pos->{password});
my $ev5b;
ok(wait_until(6, sub { ($ev5b) = grep { $_->{id} eq $ev5->{id} } deliveries();
                       $ev5b->{attempts} > $ev5->{attempts} }), '... tried again when due');
my $gap2 = epoch_of($ev5b->{next_attempt_at} // '') - time_now();
cmp_ok($gap2, '>', $gap1 + 10, "... the back-off grows ($gap1 s, then $gap2 s)");
$r = api_as($m->{token}, POST => "/api/v1/points-of-sale/$pos->{id}/webhook/deliveries/$ev5->{id}/retry");
ok($r->{status} >= 200 && $r->{status} < 300, 'retry a failing event now');
my $ev5c;
ok(wait_until(5, sub { ($ev5c) = grep { $_->{id} eq $ev5->{id} } deliveries();
                       $ev5c->{attempts} > $ev5b->{attempts} }),
   '... attempted at once, without waiting for its back-off');
$ev5b = $ev5c if $ev5c;
my $start = time_now();
set_clock(utc_time($start + 23 * 3600));
$m = merchant_login($pos->{id}, $pos->{password});
ok(wait_until(8, sub { my ($d) = grep { $_->{id} eq $ev5->{id} } deliveries();
                       $d->{attempts} > $ev5b->{attempts} }),
   '23 hours later: still tried (at least 24 hours of retries)');
my ($d5) = grep { $_->{id} eq $ev5->{id} } deliveries();
is($d5->{status}, 'retrying', '... still retrying');
cmp_ok(epoch_of($d5->{next_attempt_at} // '') - time_now(), '<=', 3600 + 5,
       '... at most an hour apart');
unlink "$dir/fail";
ok(push_clock(3700, 3), 'the receiver is back: delivered');
$want{$r5->{id}} = [qw(created expired)];

# ---- payout.paid ----------------------------------------------------------------------

# r1 and r2 were validated on Wednesday 10 June: paid 5 business days later,
# Wednesday 17 June, 00:00 in Paris
set_clock('2026-06-16T22:00:30Z');
$m = merchant_login($pos->{id}, $pos->{password});
my $paid;
ok(wait_until(8, sub { ($paid) = grep { ($_->{json}{type} // '') eq 'payout.paid' } got(); $paid }),
   'the payout is paid: a payout.paid event');
if ($paid) {
    my $d = $paid->{json}{data} // {};
    ok($paid->{valid}, '... signed');
    is($d->{point_of_sale}, $pos->{id}, '... of the point of sale');
    is($d->{business_date}, '2026-06-10', '... for the requests validated on 10 June');
    is($d->{scheduled_for}, '2026-06-17', '... scheduled for 17 June');
    is($d->{amount}, 8000, '... 2 x 40,00');
    is($d->{count}, 2, '... 2 requests');
    is($d->{status}, 'paid', '... paid');
    ok(is_utc_time($d->{paid_at}), '... with paid_at');
    my $p = api_as($m->{token}, GET => "/api/v1/payouts/$d->{id}");
    is($p->{json}{status}, 'paid', '... the same payout, in the API');
}

# the last: r6's reminder and expiry, r5's expiry, all delivered, in order
ok(push_clock(3700, 3), 'every event delivered in the end');
@got = got();
%delivery_of = map { ($_->{event} // '') => $_ } deliveries();
$want{$r6->{id}} = [qw(created paid validation_reminder expired)];
for my $pr ($r5->{id}, $r6->{id}) {
    my @mine = grep { ($_->{json}{data}{id} // '') eq $pr } @got;
    my (@ids, %seen);
    for my $g (sort { ($delivery_of{$a->{json}{id}}{id} // 0) <=> ($delivery_of{$b->{json}{id}}{id} // 0) } @mine) {
        push @ids, $g->{json}{id} unless $seen{$g->{json}{id}}++;
    }
    my %type_of = map { $_->{json}{id} => $_->{json}{type} } @mine;
    is_deeply([map { $type_of{$_} =~ s/^payment_request\.//r } @ids], $want{$pr},
              "$pr: @{ $want{$pr} }");
}
ok(!grep({ !$_->{valid} } @got), 'all signatures valid');

done_testing;
