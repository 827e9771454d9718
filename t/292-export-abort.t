# Exports whose client goes away (issue 13, item 5): nginx notices (499),
# and when the export's thread ends, nothing of it stays in the worker: no
# descriptor of its unlinked file, no per-account lock, no worker slot; its
# PostgreSQL connection is kept for the next export.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use POSIX ();
use lib 't/lib';
use CvcTest;
use CvcExport;

client_ip('192.0.2.92');

my $conv = new_convention();
my $pos = new_pos($conv);
my $ben = new_beneficiary();
my $seller = merchant_login($pos->{id}, $pos->{password});

my $rows = 3000;
seed_requests($pos->{id}, $ben->{id}, $rows, 0x29200000);

my $dir = "$ENV{CVC_TEST_DIR}/tmp";
my $worker = worker_pid();
my $before = deleted_export_fds($worker);

sub aborted_exports {
    my $n = () = access_log() =~ m{"GET /api/v1/payment-requests/export" 499 }g;
    return $n;
}

my @kept;
for my $round (1 .. 3) {
    my $aborted = aborted_exports();
    my $lock = hold_exports();

    # curl, killed while its export waits in PostgreSQL
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec 'curl', '-s', '-o', '/dev/null',
             '-H', "X-Forwarded-For: 192.0.2.92",
             '-H', "Authorization: Bearer $seller->{token}",
             export_url('format=csv') or POSIX::_exit(127);
    }
    ok(wait_until(10, sub { exports_waiting() == 1 }),
       "round $round: the export runs");
    kill 'KILL', $pid;
    waitpid $pid, 0;

    ok(wait_until(10, sub { aborted_exports() == $aborted + 1 }),
       "round $round: nginx notices the client has gone (499)");

    release_exports($lock);

    # the thread reads the rows and writes its file, for nobody
    ok(wait_until(10, sub { exports_active() == 0 }),
       "round $round: the export's query ended");
    ok(wait_until(10, sub { deleted_export_fds($worker) <= $before }),
       "round $round: the worker holds no descriptor of its file")
        or diag 'the worker holds ' . deleted_export_fds($worker);
    push @kept, join ' ', export_backends();
}

ok(length $kept[0], "the connection of an export left was kept: $kept[0]");
is_deeply([@kept[1, 2]], [($kept[0]) x 2],
          'and served the next export left') or diag explain \@kept;

is(deleted_export_fds($worker), $before,
   'after 3 exports left by their clients, no descriptor more');

# the lock of the account and the worker's slots were given back
my ($status) = export_file($seller->{token}, 'format=csv', "$dir/after.csv");
is($status, 200, 'the account exports again');
my ($again) = export_file($seller->{token}, 'format=csv', "$dir/after.csv");
is($again, 200, 'and again');
is(join(' ', export_backends()), $kept[0], 'and the next ones');
is(deleted_export_fds($worker), $before, 'no descriptor more at the end');

unlink "$dir/after.csv";

done_testing;
