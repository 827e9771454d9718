package Cvc::Stack;

# The test stack that scripts/run-tests starts: its environment
# (CVC_TEST_URL, CVC_TEST_DIR, CVC_OPS_TOKEN, CVC_PG_PORT, CVC_REDIS_PORT,
# CVC_ROOT), scripts/stack on it, its PostgreSQL and Redis, nginx's
# worker and logs, free ports for the tests' own servers, and the address
# their webhook receivers listen on.
#
#   stack('pg-stop');  psql('select 1');  psql_super('show work_mem');
#   my $rows = psql_json('select id from cvc.beneficiaries');
#   sql_quote("l'été");  redis_cli('ping');
#   audit_rows(event => 'login_failed', account => $id);
#   error_log();  access_log();  worker_pid();  free_port();

use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();

our @EXPORT = qw(stack psql psql_super psql_json sql_quote redis_cli
                 audit_rows error_log access_log worker_pid free_port
                 webhook_host);
our @EXPORT_OK = qw(test_env);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

# test_env($name) -> the variable scripts/run-tests set; dies without it
sub test_env {
    my ($name) = @_;
    defined $ENV{$name} or die "$name is not set: run the tests through scripts/run-tests\n";
    return $ENV{$name};
}

# run a command with its stdout sent to stderr (keeps the TAP stream clean)
sub _run_quiet {
    my @cmd = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>&', \*STDERR;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

# stack('pg-stop') etc.: scripts/stack SUBCOMMAND on the test stack
sub stack {
    my ($sub) = @_;
    my @cmd = (test_env('CVC_ROOT') . '/scripts/stack', $sub,
               test_env('CVC_TEST_DIR'));
    _run_quiet(@cmd) == 0 or die "@cmd failed\n";
    return 1;
}

# _psql_as($role, $sql) -> output (-XAtq) of $sql run as $role; dies on
# error
sub _psql_as {
    my ($role, $sql) = @_;
    my @cmd = ('psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
               '-p', test_env('CVC_PG_PORT'), '-U', $role, '-d', 'cvc',
               '-c', $sql);
    open my $fh, '-|', @cmd or die "psql: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "psql failed (status $?) on: $sql\n";
    $out =~ s/\n\z//;                       # chomp ($/ is undef here)
    return $out;
}

# psql($sql): as role cvc_owner, which owns the tables (the gateway's role
# cvc may not read them)
sub psql { return _psql_as('cvc_owner', @_) }

# psql_super($sql): as the cluster's superuser postgres, for what no role
# of the gateway may see or do (another role's backends in
# pg_stat_activity, a role's settings)
sub psql_super { return _psql_as('postgres', @_) }

# psql_json($select) -> the rows of the select, as an array of hashes
sub psql_json {
    my ($sql) = @_;
    my $out = psql("select coalesce(json_agg(t), '[]') from ($sql) t");
    return $JSON->decode($out);
}

sub sql_quote {
    my ($s) = @_;
    return 'null' unless defined $s;
    $s =~ s/'/''/g;
    return "'$s'";
}

# audit_rows(event => ..., account => ..., request_id => ...) -> rows
sub audit_rows {
    my (%w) = @_;
    my $where = join ' and ', 'true',
        map { "$_ = " . sql_quote($w{$_}) } sort keys %w;
    return psql_json("select id, at, event, account, host(client_ip) "
                     . "as client_ip, request_id, details "
                     . "from cvc.audit_log where $where order by id");
}

# redis_cli(@args) -> output (chomped)
sub redis_cli {
    my @args = @_;
    open my $fh, '-|', 'redis-cli', '-p', test_env('CVC_REDIS_PORT'), @args
        or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\n\z//;                       # chomp ($/ is undef here)
    return $out;
}

sub _log {
    my ($name) = @_;
    my $file = test_env('CVC_TEST_DIR') . "/logs/$name";
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

# error_log(), access_log() -> the text of nginx's logs
sub error_log { return _log('error.log') }
sub access_log { return _log('access.log') }

# worker_pid() -> the nginx worker (the tests run one)
sub worker_pid {
    open my $p, '<', test_env('CVC_TEST_DIR') . '/nginx.pid'
        or die "nginx.pid: $!";
    my $master = <$p>;
    chomp $master;
    my ($worker) = split /\s+/, `pgrep -P $master`;
    return $worker;
}

# free_port() -> a TCP port of 127.0.0.1 that nothing listens on now
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1) or die $!;
    return $s->sockport;
}

# The one loopback address that conf/test.conf lets webhooks reach
# (cvc_webhook_allow): the tests' receivers listen there; 127.0.0.1 and
# the rest of loopback are refused like any address of this machine.
sub webhook_host { '127.0.0.3' }

1;
