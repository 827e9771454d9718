package CvcTest;

# Helpers for the CVC gateway tests (core Perl only). scripts/run-tests
# starts the stack and sets CVC_TEST_URL, CVC_TEST_DIR, CVC_OPS_TOKEN,
# CVC_PG_PORT, CVC_REDIS_PORT and CVC_ROOT.
#
#   use lib 't/lib'; use CvcTest;
#   my $r = api(POST => '/api/x', { a => 1 });   # $r->{status}, {json}, {raw}, {headers}
#   my $o = ops(GET => '/ops/health');
#   my @res = parallel(10, sub { my $i = shift; api(GET => "/api/y/$i")->{status} });
#   stack('pg-stop');  psql('select 1');  redis_cli('ping');
#   wait_until(5, sub { ... });  error_log();  unique_digits(8);

use strict;
use warnings;
use Exporter 'import';
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use File::Temp ();
use Digest::MD5 qw(md5_hex);

our @EXPORT = qw(api ops parallel stack psql redis_cli wait_until error_log
                 unique_digits);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub _env {
    my ($name) = @_;
    defined $ENV{$name} or die "$name is not set: run the tests through scripts/run-tests\n";
    return $ENV{$name};
}

# api($method, $path, $body, %headers) -> {status, headers, raw, json}
# $body: undef, a hashref/arrayref (sent as JSON) or a string (sent as is).
sub api {
    my ($method, $path, $body, %headers) = @_;
    my %h = map { lc($_) => $headers{$_} } keys %headers;
    my %req = (headers => \%h);
    if (ref $body) {
        $req{content} = $JSON->encode($body);
        $h{'content-type'} //= 'application/json';
    } elsif (defined $body) {
        $req{content} = $body;
    }
    # a fresh client each time: no keep-alive sockets shared across fork()
    my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
    my $res = $http->request($method, _env('CVC_TEST_URL') . $path, \%req);
    my $raw = $res->{content} // '';
    my $json;
    if (length $raw) {
        $json = eval { $JSON->decode($raw) };
    }
    return { status => $res->{status}, headers => $res->{headers},
             raw => $raw, json => $json };
}

# ops($method, $path, $body) -> same as api(), with the ops bearer token
sub ops {
    my ($method, $path, $body, %headers) = @_;
    return api($method, $path, $body,
               Authorization => 'Bearer ' . _env('CVC_OPS_TOKEN'), %headers);
}

# parallel($n, sub { my $i = shift; ...; return $result }) -> @results
# Runs $n forked children at the same moment; each result must be
# JSON-serializable. Don't call Test::More functions in the children.
sub parallel {
    my ($n, $code) = @_;
    my $tmp = File::Temp->newdir('cvc-parallel-XXXXXX', TMPDIR => 1);
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    my @pids;
    for my $i (0 .. $n - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $go_w;
            sysread $go_r, my $buf, 1;          # wait for the start signal
            my $json = eval { my $r = $code->($i); $JSON->encode({ ok => $r }) }
                // $JSON->encode({ error => "$@" || 'died' });
            if (open my $fh, '>', "$tmp/$i.json") {
                print $fh $json;
                close $fh;
            }
            POSIX::_exit(0);                    # no END blocks, no Test::More
        }
        push @pids, $pid;
    }
    close $go_r;
    close $go_w;                                # go!
    waitpid $_, 0 for @pids;
    my (@results, @errors);
    for my $i (0 .. $n - 1) {
        my $out = { error => "child $i left no result" };
        if (open my $fh, '<', "$tmp/$i.json") {
            local $/;
            $out = $JSON->decode(<$fh>);
        }
        push @errors, "child $i: $out->{error}" if exists $out->{error};
        push @results, $out->{ok};
    }
    die "parallel: @errors" if @errors;
    return @results;
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
    my @cmd = (_env('CVC_ROOT') . '/scripts/stack', $sub, _env('CVC_TEST_DIR'));
    _run_quiet(@cmd) == 0 or die "@cmd failed\n";
    return 1;
}

# psql($sql) -> output (-XAtq), as role cvc; dies on error
sub psql {
    my ($sql) = @_;
    my @cmd = ('psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
               '-p', _env('CVC_PG_PORT'), '-U', 'cvc', '-d', 'cvc', '-c', $sql);
    open my $fh, '-|', @cmd or die "psql: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "psql failed (status $?) on: $sql\n";
    $out =~ s/\n\z//;                       # chomp ($/ is undef here)
    return $out;
}

# redis_cli(@args) -> output (chomped)
sub redis_cli {
    my @args = @_;
    open my $fh, '-|', 'redis-cli', '-p', _env('CVC_REDIS_PORT'), @args
        or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\n\z//;                       # chomp ($/ is undef here)
    return $out;
}

# wait_until($seconds, sub { ... }) -> true as soon as the sub returns true
sub wait_until {
    my ($seconds, $code) = @_;
    my $end = Time::HiRes::time() + $seconds;
    while (1) {
        return 1 if $code->();
        return 0 if Time::HiRes::time() >= $end;
        Time::HiRes::sleep(0.1);
    }
}

# error_log() -> the text of nginx's error log
sub error_log {
    my $file = _env('CVC_TEST_DIR') . '/logs/error.log';
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

# unique_digits($n) -> $n random digits (first one not 0), seeded with
# time, pid and rand so that test files don't pick the same values
my $counter = 0;
sub unique_digits {
    my ($n) = @_;
    my $seed = join ':', Time::HiRes::time(), $$, rand(), ++$counter;
    my $out = '';
    while (length $out < $n) {
        $seed = md5_hex($seed);
        $out .= join '', grep { /\d/ } split //, $seed;
        $out =~ s/^0+//;
    }
    return substr $out, 0, $n;
}

1;
