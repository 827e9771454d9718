# Exports (issue 13, item 4): they run on PostgreSQL connections that the
# worker keeps for them, not on a new connection each; one account runs
# one export at a time (429 rate_limited for a second one); a worker runs
# at most cvc_export_max (2) at once, and one more waits for a place
# (cvc_export_queue, 1 in the test configuration): beyond, 503
# unavailable; a PostgreSQL restart loses no export; without PostgreSQL or
# Redis, 503.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 't/lib';
use CvcTest;
use CvcExport;

client_ip('192.0.2.91');

my $conv = new_convention();
my $pos = new_pos($conv);
my $other = new_pos($conv);
my $ben = new_beneficiary();
my $admin = merchant_login($conv->{id}, $conv->{password});
my $seller = merchant_login($pos->{id}, $pos->{password});
my $other_seller = merchant_login($other->{id}, $other->{password});
my $third = new_pos($conv);
my $third_seller = merchant_login($third->{id}, $third->{password});

my $rows = 3000;
seed_requests($pos->{id}, $ben->{id}, $rows, 0x29100000);
seed_requests($other->{id}, $ben->{id}, 10, 0x29110000);

my $dir = "$ENV{CVC_TEST_DIR}/tmp";

sub lines_of {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return 0;
    my $n = 0;
    $n++ while <$fh>;
    return $n;
}

# --- sequential exports share one PostgreSQL connection

my @seen;
for my $i (1 .. 4) {
    my ($status) = export_file($seller->{token}, 'format=csv', "$dir/seq.csv");
    is($status, 200, "export $i: 200");
    is(lines_of("$dir/seq.csv"), $rows + 1, "export $i: every row");
    push @seen, join ' ', export_backends();
}
my @backends = split / /, $seen[0];
ok(@backends >= 1 && @backends <= 2,
   'after an export, the worker keeps its connection (at most '
   . 'cvc_export_connections, 2): ' . scalar(@backends));
is_deeply([@seen[1 .. 3]], [($seen[0]) x 3],
          'the same PostgreSQL backends serve every export')
    or diag explain \@seen;

my ($status) = export_file($admin->{token}, 'format=xlsx', "$dir/seq.xlsx");
is($status, 200, 'another account, XLSX: 200');
is(join(' ', export_backends()), $seen[0],
   'it runs on a kept connection too');

# --- one export at a time per account; cvc_export_max per worker

# an error answer as api() gives it, from export_file()'s
sub refused {
    my ($token) = @_;
    my ($st, $head, $body) = export_file($token, 'format=csv', "$dir/refused");
    my %h;
    $h{lc $1} = $2 while $head =~ /^([^:\s]+):\s*(.*?)\r?$/mg;
    return { status => $st, headers => \%h, raw => $body,
             json => eval { JSON::PP->new->decode($body) } };
}

my $lock = hold_exports();

my $first = export_in_child($seller->{token}, "$dir/first.csv");
ok(wait_until(10, sub { exports_waiting() == 1 }),
   'the first export runs (held in PostgreSQL)');

my $r = refused($seller->{token});
error_ok($r, 429, 'rate_limited', 'a second export of the same account');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');

my $second = export_in_child($admin->{token}, "$dir/second.csv");
ok(wait_until(10, sub { exports_waiting() == 2 }),
   'another account may export meanwhile');

# a third export waits for a place (its request reaches nginx in 0.5 s)
my $waits = export_in_child($other_seller->{token}, "$dir/third.csv");
Time::HiRes::sleep(0.5);
is(exports_waiting(), 2, 'a third export in the worker is not in '
                         . 'PostgreSQL: it waits');

$r = refused($third_seller->{token});
error_ok($r, 503, 'unavailable', 'a fourth export, the queue (1) full');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');
like(error_log(), qr/cvc export: 2 exports run in this worker and 1 wait, /,
     '... said so in the error log');

release_exports($lock);

is(child_status($first, "$dir/first.csv"), 200, 'the first export: 200');
is(lines_of("$dir/first.csv"), $rows + 1, 'the first export: every row');
is(child_status($second, "$dir/second.csv"), 200, 'the second export: 200');
is(child_status($waits, "$dir/third.csv"), 200,
   'the third, which waited: 200');
is(lines_of("$dir/third.csv"), 10 + 1, '... every row');

($status) = export_file($seller->{token}, 'format=csv', "$dir/again.csv");
is($status, 200, 'once the first has ended, the account exports again');
is(lines_of("$dir/again.csv"), $rows + 1, '... every row');
($status) = export_file($other_seller->{token}, 'format=csv',
                        "$dir/other.csv");
is($status, 200, 'and the account that was refused by the worker too');

ok(export_backends() <= 2, 'at most 2 connections kept after all that');

# --- PostgreSQL restarts: the kept connections are gone, exports go on

ok(scalar(export_backends()) >= 1, 'a connection is kept');
stack('pg-stop');
stack('pg-start');
($status) = export_file($seller->{token}, 'format=csv', "$dir/restart.csv");
is($status, 200, 'PostgreSQL restarted: the next export works');
is(lines_of("$dir/restart.csv"), $rows + 1, '... every row');
ok(scalar(export_backends()) >= 1, 'and its connection is kept');

stack('pg-stop');
$r = refused($seller->{token});
error_ok($r, 503, 'unavailable', 'PostgreSQL stopped: an export');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');
stack('pg-start');

# --- without Redis, no export starts: its lock is there

my $key = new_api_key($seller->{token}, $pos->{id});
($status) = export_file($key, 'format=csv', "$dir/key.csv");
is($status, 200, 'an API key exports (an account of its own)');

stack('redis-stop');
$r = refused($key);
error_ok($r, 503, 'unavailable', 'Redis stopped: an export');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');
stack('redis-start');

ok(wait_until(10, sub {
       (export_file($key, 'format=csv', "$dir/key.csv"))[0] == 200 }),
   'Redis back: the API key exports again');

unlink glob "$dir/*.csv $dir/*.status $dir/seq.xlsx $dir/refused";

done_testing;
