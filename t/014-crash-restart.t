# PostgreSQL or Redis killed -9 (a crash) is started again at once by
# scripts/stack, and the gateway is healthy again without a restart of
# nginx: a killed server is a zombie until its parent reaps it (a second
# or so when that parent is init), and the stack took a zombie for a
# server still running, started nothing and waited in vain (make chaos
# found it).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

sub pid_in {
    my ($file) = @_;
    open my $fh, '<', $file or return undef;
    my $pid = <$fh> // '';
    return $pid =~ /^(\d+)/ ? $1 : undef;
}

my $dir = $ENV{CVC_TEST_DIR};
ok(wait_until(5, \&health_ok), 'healthy at the start');

for my $case (['postgres', "$dir/pg/postmaster.pid", 'pg-start'],
              ['redis', "$dir/redis/redis.pid", 'redis-start'])
{
    my ($name, $pidfile, $start) = @$case;
    my $pid = pid_in($pidfile);
    ok($pid, "$name runs ($pid)");
    my @all = ($pid, map { /(\d+)/ ? $1 : () } `pgrep -P $pid`);
    kill 'KILL', @all;
    ok(eval { stack($start) }, "$name killed -9, started again at once")
        or diag $@;
    isnt(pid_in($pidfile), $pid, '... a new server');
    ok(wait_until(10, \&health_ok), '... and the gateway healthy again');
}

done_testing;
