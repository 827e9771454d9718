# nginx's event loop never waits: not for a frozen PostgreSQL, not for
# scrypt.  The server has one worker, so a plain "return 204" location in
# the same server answers late if anything blocks that worker.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ':sys_wait_h';
use lib 't/lib';
use CvcTest;

sub timed_health {
    my $t0 = time;
    my $r = api(GET => '/api/v1/health');
    return { status => $r->{status}, took => time - $t0,
             postgres => $r->{json}{postgres} };
}

ok(wait_until(5, sub { api(GET => '/api/v1/health')->{status} == 200 }),
   'healthy at the start');

# 1. PostgreSQL frozen: its sockets accept and never answer

stack('pg-freeze');

my ($res, $slowest, $pings) = ping_during(sub {
    parallel(20, sub { timed_health() });
});

stack('pg-thaw');

cmp_ok($pings, '>=', 3, "pinged $pings times while 20 health checks waited");
cmp_ok($slowest, '<', 0.5,
       sprintf('the plain location answered at once (slowest %.3f s)',
               $slowest));
is(scalar(grep { $_->{status} == 503 } @$res), 20,
   'every health check ended with 503');
is(scalar(grep { $_->{postgres} eq 'down' } @$res), 20,
   'naming postgres');
my @took = sort { $a <=> $b } map { $_->{took} } @$res;
cmp_ok($took[0], '>=', 1.5, sprintf('none before the 2 s query timeout '
                                     . '(first %.2f s)', $took[0]));
cmp_ok($took[-1], '<', 6, sprintf('all soon after it (last %.2f s)',
                                  $took[-1]));

ok(wait_until(5, sub { api(GET => '/api/v1/health')->{status} == 200 }),
   'ok again after SIGCONT');

# 2. the wait queue is bounded: past the pool (4) and the queue (100) of
# the test configuration, a request is answered 503 at once, not queued.
# (Health checks share one probe: logins make the queries, an unknown
# login's lookup each.)

# (each from its own address: 120 from one would meet the logins' rate
# limit first)
sub timed_login {
    my ($i) = @_;
    my $t0 = time;
    my $r = api(POST => '/api/v1/merchant/sessions',
                { login => '999999', password => 'not a password' },
                'X-Forwarded-For' => '198.51.100.' . (1 + $i));
    return { status => $r->{status}, took => time - $t0 };
}

stack('pg-freeze');
$res = [parallel(120, sub { timed_login($_[0]) })];
stack('pg-thaw');

my @fast = grep { $_->{took} < 1 } @$res;
is(scalar(grep { $_->{status} == 503 } @$res), 120, '120 logins: 503');
cmp_ok(scalar(@fast), '>=', 120 - 104,
       scalar(@fast) . ' found the queue full and were answered at once');
cmp_ok(scalar(@fast), '<=', 120 - 104 + 4, '... and only those');
ok(wait_until(5, sub { api(GET => '/api/v1/health')->{status} == 200 }),
   'ok again after SIGCONT');

# 3. scrypt: 20 password hashes at once run in the thread pool

my $base = unique_digits(4);
($res, $slowest, $pings) = ping_during(sub {
    my $t0 = time;
    my @r = parallel(20, sub {
        my $i = shift;
        my $r = ops(POST => '/ops/v1/conventions',
                    { name => "Hash $i", email => "h$i\@example.fr",
                      password => "a long password $i" });
        return { status => $r->{status} };
    });
    return { took => time - $t0, statuses => [map { $_->{status} } @r] };
});

my $work = $res->[0];
is(scalar(grep { $_ == 201 } @{ $work->{statuses} }), 20,
   '20 conventions created, each password hashed');
cmp_ok($pings, '>=', 3, "pinged $pings times during the hashing");
cmp_ok($slowest, '<', 0.5,
       sprintf('the plain location answered at once (slowest %.3f s, '
               . 'hashing took %.2f s)', $slowest, $work->{took}));

done_testing;
