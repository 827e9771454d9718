package Cvc::Clock;

# The gateway's test clock (PUT and DELETE /ops/v1/clock) and the times
# and dates the tests write: set, held, reset (by itself at the end of a
# file that set it), at() that moves it and logs the file's accounts in
# again, RFC 3339 UTC times and epochs, and dates in Europe/Paris.
#
#   set_clock('2026-06-24T09:33:00Z'); ... reset_clock();
#   hold_clock('2026-06-24T09:33:00Z', 2.5);   # "now" kept at most ~0.3 s
#       # past that instant for 2.5 s (real): the timers run meanwhile
#   my ($m, $c);
#   keep_logged_in(\$m => $pos, \$c => $ben);
#   my $now = at('2026-06-24T08:00:00Z');   # the clock there, $m and $c
#       # fresh sessions; $now its epoch
#   utc_time($epoch)               -> '2026-06-24T09:33:00Z'
#   utc_date($epoch)               -> '2026-06-24'
#   epoch_of('2026-06-24T09:33:00Z') -> seconds;  is_utc_time($s)
#   paris_date($epoch)            -> '2026-06-24'
#   paris_end_of_day('2026-06-26') -> '2026-06-26T21:59:59Z'
#   add_days('2026-06-24', 3)      -> '2026-06-27'

use strict;
use warnings;
use Exporter 'import';
use POSIX ();
use Time::HiRes ();
use Time::Local ();
use Cvc::Http qw(ops must);
use Cvc::Accounts qw(merchant_login customer_login);

our @EXPORT = qw(set_clock reset_clock reset_clock_at_end hold_clock
                 keep_logged_in at utc_time utc_date epoch_of is_utc_time
                 paris_date paris_end_of_day add_days);

# the process that set the clock (not a child that inherited the flag)
my $SET_BY;

# reset_clock_at_end(): reset_clock() when this file ends. set_clock()
# asks for it; a file that sets the clock by hand calls it.
sub reset_clock_at_end { $SET_BY = $$; return }

END {
    local $?;
    reset_clock() if defined $SET_BY && $SET_BY == $$ && $ENV{CVC_TEST_URL};
}

# set_clock('2026-06-24T09:33:00Z') -> {now}; dies unless 200
sub set_clock {
    my ($now) = @_;
    reset_clock_at_end();
    return must(ops(PUT => '/ops/v1/clock', { now => $now }), 200,
                "PUT /ops/v1/clock $now")->{json};
}

# reset_clock() -> the status of DELETE /ops/v1/clock (204): real time
sub reset_clock {
    return ops(DELETE => '/ops/v1/clock')->{status};
}

# hold_clock($time, $seconds): sets the test clock to $time again and
# again for $seconds of real time, so that "now" stays within ~0.3 s of
# $time while the timers tick and sweep
sub hold_clock {
    my ($time, $seconds) = @_;
    my $end = Time::HiRes::time() + $seconds;
    while (1) {
        set_clock($time);
        last if Time::HiRes::time() >= $end;
        Time::HiRes::sleep(0.25);
    }
    return 1;
}

my @KEPT;                # [\$variable, account or \$variable], ...

# keep_logged_in(\$m => $pos, \$c => $ben, ...): the sessions at() opens
# again, in this order: each variable gets a fresh login of the account
# after it, customer_login for a beneficiary (it has a payment_code),
# merchant_login for a convention or a point of sale. An account given as
# a variable (\$who) is read at each at(), and skipped while undef.
sub keep_logged_in {
    my @args = @_;
    @KEPT = ();
    while (my ($var, $who) = splice @args, 0, 2) {
        ref $var eq 'SCALAR' || ref $var eq 'REF'
            or die "keep_logged_in(\\\$variable => account, ...)\n";
        push @KEPT, [$var, $who];
    }
    return;
}

# at($time) -> the epoch of the clock's new "now": the test clock set to
# $time, then fresh sessions (15 min idle on the test clock) for the
# accounts of keep_logged_in()
sub at {
    my ($time) = @_;
    my $now = epoch_of(set_clock($time)->{now} // '') // 0;
    for (@KEPT) {
        my ($var, $who) = @$_;
        $who = $$who if ref $who eq 'SCALAR' || ref $who eq 'REF';
        next unless $who;
        $$var = exists $who->{payment_code}
              ? customer_login($who->{id}, $who->{password})
              : merchant_login($who->{id}, $who->{password});
    }
    return $now;
}

# utc_time($epoch) -> '2026-06-24T09:33:00Z' (whole seconds)
sub utc_time { POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# utc_date($epoch) -> '2026-06-24', the date in UTC
sub utc_date { POSIX::strftime('%Y-%m-%d', gmtime $_[0]) }

# is_utc_time($s): RFC 3339 UTC ("2026-06-24T09:33:00Z", fraction allowed)
sub is_utc_time {
    my ($s) = @_;
    return defined $s && !ref $s
        && $s =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
}

# epoch_of('2026-06-24T09:33:00Z') -> seconds (fraction kept)
sub epoch_of {
    my ($s) = @_;
    $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z\z/
        or return undef;
    return Time::Local::timegm($6, $5, $4, $3, $2 - 1, $1) + ($7 // 0);
}

# paris_date($epoch) -> 'YYYY-MM-DD' in Europe/Paris
sub paris_date {
    my ($epoch) = @_;
    local $ENV{TZ} = 'Europe/Paris';
    POSIX::tzset();
    my $d = POSIX::strftime('%Y-%m-%d', localtime $epoch);
    return $d;
}

# paris_end_of_day('2026-06-26') -> 23:59:59 Europe/Paris that day, in UTC
sub paris_end_of_day {
    my ($date) = @_;
    my ($y, $m, $d) = $date =~ /^(\d{4})-(\d\d)-(\d\d)\z/ or die "bad date $date";
    my $t;
    {
        local $ENV{TZ} = 'Europe/Paris';
        POSIX::tzset();
        $t = POSIX::mktime(59, 59, 23, $d, $m - 1, $y - 1900, 0, 0, -1);
    }
    POSIX::tzset();
    return utc_time($t);
}

# add_days('2026-06-24', 3) -> '2026-06-27' (calendar days)
sub add_days {
    my ($date, $n) = @_;
    my ($y, $m, $d) = $date =~ /^(\d{4})-(\d\d)-(\d\d)\z/ or die "bad date $date";
    return utc_date(Time::Local::timegm(0, 0, 12, $d, $m - 1, $y) + $n * 86400);
}

1;
