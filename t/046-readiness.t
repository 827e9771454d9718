# GET /api/v1/health/ready, the readiness beside the liveness of
# /api/v1/health: "down" (503, Retry-After) when a backend does not
# answer or the schema is older than the code; "degraded" (200) when the
# outbox has a backlog; "ok" otherwise, with what was checked.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.46');

sub ready { api(GET => '/api/v1/health/ready') }
sub checks_are {
    my ($r, $status, $http, $checks, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($r->{status}, $http, "$name: $http");
    is($r->{json}{status}, $status, "$name: status $status");
    is_deeply($r->{json}{checks}, $checks, "$name: the checks")
        or diag $r->{raw};
}

my $r = ready();
checks_are($r, 'ok', 200, { schema => 'ok', outbox => 'ok', timers => 'ok' },
           'all well');
is_deeply([sort keys %{ $r->{json} }],
          [qw(checks postgres redis status version)],
          '... the health members, and the checks');
is($r->{json}{version}, api(GET => '/api/v1/health')->{json}{version},
   '... the same version as the health');

# the code's schema is the newest migration of sql/migrations
my ($newest) = reverse sort glob "$ENV{CVC_ROOT}/sql/migrations/[0-9][0-9][0-9][0-9]_*.sql";
my ($needed) = do { local (@ARGV, $/) = "$ENV{CVC_ROOT}/ngx_cvc_module/ngx_http_cvc_module.h";
                    <> =~ /#define NGX_HTTP_CVC_SCHEMA\s+"(\d{4})"/ };
is($needed, ($newest =~ m{/(\d{4})_[^/]+$})[0],
   'NGX_HTTP_CVC_SCHEMA names the newest migration');

# a database whose newest migration is older than the code
my ($applied) = psql_super("select max(name) from public.schema_migrations");
psql_super("update public.schema_migrations set name = '0000_pretend_old.sql' "
           . "where name = " . sql_quote($applied));
$r = ready();
checks_are($r, 'down', 503, { schema => 'behind', outbox => 'ok', timers => 'ok' },
           'a schema behind the code');
is($r->{headers}{'retry-after'}, 5, '... Retry-After');
is(api(GET => '/api/v1/health')->{status}, 200, '... the liveness is still 200');
psql_super("update public.schema_migrations set name = " . sql_quote($applied)
           . " where name = '0000_pretend_old.sql'");
is(ready()->{status}, 200, 'the schema back: 200');

# a message that waits for more than 10 minutes
my $id = psql("insert into cvc.outbox (kind, recipient, template, payload, "
              . "created_at, next_attempt_at) values ('email', "
              . "'stuck\@example.org', 'test', '{}', cvc.now() - interval "
              . "'11 minutes', cvc.now() + interval '1 day') returning id");
$r = ready();
checks_are($r, 'degraded', 200, { schema => 'ok', outbox => 'backlog', timers => 'ok' },
           'an outbox message 11 minutes old');
psql("delete from cvc.outbox where id = $id");
checks_are(ready(), 'ok', 200, { schema => 'ok', outbox => 'ok', timers => 'ok' },
           'sent');

# Redis gone
stack('redis-stop');
$r = ready();
is($r->{status}, 503, 'Redis stopped: 503');
is($r->{json}{redis}, 'down', '... redis down');
is($r->{json}{checks}{timers}, 'unknown', '... the timers unknown');
stack('redis-start');
ok(wait_until(10, sub { ready()->{status} == 200 }), 'Redis back: 200');

done_testing;
