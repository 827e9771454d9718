# A backend that stops: health says which one, at once, and is ok again
# once it is back, without touching nginx.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use lib 't/lib';
use CvcTest;

sub nginx_pid {
    open my $fh, '<', "$ENV{CVC_TEST_DIR}/nginx.pid" or return '';
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

my $master = nginx_pid();
ok($master, 'nginx runs');
ok(wait_until(5, \&health_ok), 'healthy at the start');

for my $case (['redis', 'redis-stop', 'redis-start'],
              ['postgres', 'pg-stop', 'pg-start'])
{
    my ($name, $stop, $start) = @$case;
    my $up = $name eq 'redis' ? 'postgres' : 'redis';

    stack($stop);

    my $t0 = time;
    my $r = api(GET => '/api/v1/health');
    my $took = time - $t0;

    is($r->{status}, 503, "$name stopped: 503");
    is($r->{json}{status}, 'down', 'status down');
    is($r->{json}{$name}, 'down', "names $name");
    is($r->{json}{$up}, 'ok', "$up still ok");
    ok($r->{headers}{'retry-after'}, 'with Retry-After');
    cmp_ok($took, '<', 2, "answered within 2 s (took ${\ sprintf '%.3f', $took})");

    # a second request while it is down is no different
    is(api(GET => '/api/v1/health')->{status}, 503, 'still 503 while down');

    stack($start);

    ok(wait_until(5, \&health_ok), "ok again once $name is back");
    is(nginx_pid(), $master, 'nginx was not restarted');
}

done_testing;
