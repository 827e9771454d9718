package CvcExport;

# Helpers for the export tests (t/291, t/292): an export to a file with
# curl, a PostgreSQL lock that holds exports in their thread until the test
# lets them go, and what the nginx worker holds.
#
#   my $lock = hold_exports();            # exports now wait in PostgreSQL
#   wait_until(10, sub { exports_waiting() == 1 });
#   release_exports($lock);
#   my ($status, $head, $body) = export_file($token, 'format=csv', $file);
#   my $pid = export_in_child($token, $file);   # the same, in a child
#   child_status($pid, $file);            # waits for it: its status
#   seed_requests($pos_id, $ben_id, 3000, $offset);
#   deleted_export_fds();                 # descriptors of unlinked exports

use strict;
use warnings;
use Exporter 'import';
use IO::Handle ();
use POSIX ();
use Cvc::Stack qw(test_env psql psql_super worker_pid);
use Cvc::Http qw(client_ip wait_until);

our @EXPORT = qw(export_file export_url export_in_child child_status
                 hold_exports release_exports exports_waiting exports_active
                 export_backends deleted_export_fds seed_requests);

# the descriptors of the psql sessions held: a child closes them, else the
# session would not end when the test lets it go
my %HELD;

sub export_url {
    my ($query) = @_;
    return test_env('CVC_TEST_URL') . "/api/v1/payment-requests/export?$query";
}

# export_file($token, $query, $file) -> ($status, $headers, $body): the
# body is in $file; $body is its text when it is JSON (an error)
sub export_file {
    my ($token, $query, $file) = @_;
    my $url = export_url($query);
    my $xff = client_ip() // '127.0.0.1';
    my $head = `curl -s --max-time 20 -D - -o '$file' -H 'X-Forwarded-For: $xff' -H 'Authorization: Bearer $token' '$url'`;
    my ($status) = $head =~ m{^HTTP/\S+ (\d+)};
    my $body = '';
    if ($head =~ m{^Content-Type: application/json}mi && open my $fh, '<', $file) {
        local $/;
        $body = <$fh>;
    }
    return ($status // 0, $head, $body);
}

# hold_exports() -> a psql session that holds an ACCESS EXCLUSIVE lock on
# cvc.points_of_sale, which every export reads: an export started now
# waits for it in its thread, in PostgreSQL. Logins and sessions don't
# read that table.
sub hold_exports {
    my @cmd = ('psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
               '-p', test_env('CVC_PG_PORT'), '-U', 'cvc_owner', '-d', 'cvc');
    open my $psql, '|-', @cmd or die "psql: $!";
    $psql->autoflush(1);
    print {$psql} "begin;\n"
        . "lock table cvc.points_of_sale in access exclusive mode;\n";
    wait_until(10, sub {
        psql("select count(*) from pg_locks where granted and "
             . "mode = 'AccessExclusiveLock' and relation = "
             . "'cvc.points_of_sale'::regclass") == 1;
    }) or die "hold_exports: no lock\n";
    $HELD{fileno $psql} = 1;
    return $psql;
}

# release_exports($psql): the session ends, its transaction with it
sub release_exports {
    my ($psql) = @_;
    delete $HELD{fileno $psql};
    close $psql;
}

# export_in_child($token, $file) -> the pid of a child that runs
# export_file($token, 'format=csv', $file) and leaves its status in
# $file.status
sub export_in_child {
    my ($token, $file) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        POSIX::close($_) for keys %HELD;
        my ($st) = export_file($token, 'format=csv', $file);
        open my $fh, '>', "$file.status" or POSIX::_exit(1);
        print $fh $st;
        close $fh;
        POSIX::_exit(0);
    }
    return $pid;
}

# child_status($pid, $file) -> the status of export_in_child()'s export
sub child_status {
    my ($pid, $file) = @_;
    waitpid $pid, 0;
    open my $fh, '<', "$file.status" or return 0;
    return scalar <$fh>;
}

my $EXPORT_QUERY = "query like 'select * from cvc.%\\_export(%' "
                   . "and pid <> pg_backend_pid()";

# (pg_stat_activity shows another role's queries and waits to a superuser
# only: the exports run as the gateway's role)

# exports_waiting() -> how many exports wait for the lock
sub exports_waiting {
    return psql_super("select count(*) from pg_stat_activity where "
                      . "$EXPORT_QUERY and wait_event_type = 'Lock'");
}

# exports_active() -> how many export queries run in PostgreSQL
sub exports_active {
    return psql_super("select count(*) from pg_stat_activity where "
                      . "$EXPORT_QUERY and state = 'active'");
}

# export_backends() -> the pids of the connections exports use
sub export_backends {
    my $pids = psql_super(
        "select string_agg(pid::text, ' ' order by pid) from pg_stat_activity "
        . "where application_name = 'cvc export'");
    return grep { length } split / /, $pids;
}

# deleted_export_fds($pid) -> the worker's descriptors of unlinked export
# files
sub deleted_export_fds {
    my ($pid) = @_;
    $pid //= worker_pid();
    my $n = 0;
    opendir my $d, "/proc/$pid/fd" or die "/proc/$pid/fd: $!";
    for my $fd (readdir $d) {
        my $to = readlink "/proc/$pid/fd/$fd" // next;
        $n++ if $to =~ m{/cvc-export-[^/]* \(deleted\)\z};
    }
    return $n;
}

# seed_requests($pos, $ben, $n, $offset): $n expired requests of $pos in
# SQL (ids from $offset on, distinct per test file)
sub seed_requests {
    my ($pos, $ben, $n, $offset) = @_;
    psql(<<SQL);
insert into cvc.payment_requests (id, point_of_sale_id, mode, status, amount,
    allow_partial, basket_number, customer, beneficiary_id,
    validation_delay_days, on_validation_expiry, pay_by, created_by,
    created_at, last_action_at, label)
select 'pr_' || lpad(to_hex($offset + g), 24, '0'), '$pos', 'deferred',
       'expired', 100 + g % 5000, false, 'SEED-' || g, '$ben', '$ben', 0,
       'cancel', now() - interval '1 day', 'system',
       now() - g * interval '1 second', now() - g * interval '1 second',
       'Libellé ' || g
from generate_series(1, $n) g
SQL
}

1;
