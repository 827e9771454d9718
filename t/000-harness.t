# The test harness itself: nginx, PostgreSQL and Redis are up and reachable.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

is(api(GET => '/ping')->{status}, 204, 'nginx answers /ping');
is(psql('select 1'), '1', 'PostgreSQL answers as role cvc_owner');
is(redis_cli('ping'), 'PONG', 'Redis answers');
like(psql('select count(*) from public.schema_migrations'), qr/^\d+$/,
     'migrations table exists');

my @r = parallel(3, sub { my $i = shift; return { i => $i, pid => $$ } });
is_deeply([map { $_->{i} } @r], [0, 1, 2], 'parallel() returns results in order');

is(length unique_digits(12), 12, 'unique_digits gives the length asked');
ok(wait_until(1, sub { 1 }), 'wait_until');

done_testing;
