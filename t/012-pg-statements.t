# How the module uses its PostgreSQL connections: each SQL text is
# prepared once per connection and then executed (no parse or plan a
# request), and a statement the module has given up on (cvc_query_timeout)
# is cancelled by PostgreSQL too (statement_timeout set at connect), so it
# does not go on running, or waiting for a lock, behind a 503.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.12');

sub pg_log {
    open my $fh, '<', "$ENV{CVC_TEST_DIR}/logs/postgres.log" or return '';
    local $/;
    return scalar <$fh>;
}

my $conv = new_convention();
my $pos = new_pos($conv);
my $ben = new_beneficiary(balance => 10_000);

# ---- prepared once a connection ---------------------------------------------

# every statement of the gateway's new connections is logged; nginx is
# reloaded so that its workers connect again
psql_super("alter role cvc set log_min_duration_statement = 0");
stack('start');
my $m = merchant_login($pos->{id}, $pos->{password});
my $pr = new_request($m->{token}, customer => $ben->{id});
my $mark = length pg_log();
for (1 .. 20) {
    get_request($m->{token}, $pr->{id})->{status} == 200 or die 'GET failed';
}
wait_until(3, sub { (() = substr(pg_log(), $mark) =~ /execute cvc\d+: select cvc\.pr_get/g) >= 20 });
my $log = substr(pg_log(), $mark);
psql_super("alter role cvc reset log_min_duration_statement");
stack('start');

my $executed = () = $log =~ /execute cvc\d+: select cvc\.pr_get\(/g;
my $parsed = () = $log =~ /parse cvc\d+: select cvc\.pr_get\(/g;
my $unnamed = () = $log =~ /(?:execute|parse) <unnamed>: select cvc\.pr_get\(/g;
is($executed, 20, '20 reads of a request: 20 executions of a prepared '
                  . 'statement');
cmp_ok($parsed, '<=', 4, "... parsed $parsed time(s): once per connection "
                         . '(cvc_postgres_pool 4) at most');
is($unnamed, 0, '... never as an unnamed statement');

# ---- a statement given up on is cancelled -----------------------------------

my @hold = ('psql', '-XAtq', '-h', '127.0.0.1', '-p', $ENV{CVC_PG_PORT},
            '-U', 'cvc_owner', '-d', 'cvc');
open my $holder, '|-', @hold or die "psql: $!";
$holder->autoflush(1);
print {$holder} "begin;\nlock table cvc.payment_requests in access exclusive mode;\n"
                . "select pg_sleep(8);\n";
wait_until(5, sub {
    psql_super("select count(*) from pg_locks where granted and mode = "
               . "'AccessExclusiveLock' and relation = "
               . "'cvc.payment_requests'::regclass") == 1 });

my $t0 = Time::HiRes::time();
my $r = get_request($m->{token}, $pr->{id});
my $took = Time::HiRes::time() - $t0;
error_ok($r, 503, 'unavailable', 'a read that waits for a lock past '
                                  . 'cvc_query_timeout');
ok(wait_until(2, sub {
       psql_super("select count(*) from pg_stat_activity where usename = 'cvc' "
                  . "and query like 'select cvc.pr_get(%' "
                  . "and wait_event_type = 'Lock'") == 0 }),
   sprintf('... and PostgreSQL has stopped its statement too (503 after '
           . '%.1f s)', $took));
like(pg_log(), qr/canceling statement due to statement timeout/,
     '... cancelled by statement_timeout');
close $holder;

is(get_request($m->{token}, $pr->{id})->{status}, 200,
   'once the lock is gone, the request reads');

done_testing();
