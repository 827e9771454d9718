package Cvc::Clock;

# The gateway's test clock (PUT and DELETE /ops/v1/clock) and the times
# and dates the tests write: set, held, reset, RFC 3339 UTC times and
# epochs, and dates in Europe/Paris.
#
#   set_clock('2026-06-24T09:33:00Z'); ... reset_clock();
#   hold_clock('2026-06-24T09:33:00Z', 2.5);   # "now" kept at most ~0.3 s
#       # past that instant for 2.5 s (real): the timers run meanwhile
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

our @EXPORT = qw(set_clock reset_clock hold_clock epoch_of is_utc_time
                 paris_date paris_end_of_day add_days);

# set_clock('2026-06-24T09:33:00Z') -> {now}; dies unless 200
sub set_clock {
    my ($now) = @_;
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
    return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t);
}

# add_days('2026-06-24', 3) -> '2026-06-27' (calendar days)
sub add_days {
    my ($date, $n) = @_;
    my ($y, $m, $d) = $date =~ /^(\d{4})-(\d\d)-(\d\d)\z/ or die "bad date $date";
    my $t = Time::Local::timegm(0, 0, 12, $d, $m - 1, $y) + $n * 86400;
    return POSIX::strftime('%Y-%m-%d', gmtime $t);
}

1;
