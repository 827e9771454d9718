package CvcNode;

# A second nginx beside the test stack's: its own port and folder, the
# stack's rendered configuration with edits, the same PostgreSQL and
# Redis unless an edit says otherwise.
#
#   my $n = CvcNode->new(workers => 2, edit => sub { $_[0] =~ s/a/b/ });
#   $n->start or die;  $n->url;  $n->api(GET => '/api/v1/health');
#   $n->reload;  $n->workers;  $n->log;  $n->bad_log;  $n->stop;

use strict;
use warnings;
use File::Temp ();
use HTTP::Tiny;
use Cvc::Stack qw(free_port);
use Cvc::Http qw(wait_until);

sub new {
    my ($class, %o) = @_;
    my $run = $ENV{CVC_TEST_DIR};
    my $dir = File::Temp::tempdir('cvc-node-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;
    mkdir "$dir/$_" for qw(logs tmp);
    chmod 01777, "$dir/tmp";
    # the nodes share the payment codes' key, as they must
    # (docs/operations.md)
    system('cp', '-p', "$run/payment_code.key", "$dir/payment_code.key") == 0
        or die "can't copy the payment-code key";
    my $port = free_port();
    my ($port1) = $ENV{CVC_TEST_URL} =~ /:(\d+)$/;
    open my $in, '<', "$run/nginx.conf" or die "$run/nginx.conf: $!";
    my $conf = do { local $/; <$in> };
    close $in;
    my $listens = () = $conf =~ /listen 127\.0\.0\.1:\Q$port1\E;/g;
    die "the stack's configuration listens $listens times on its port\n"
        unless $listens == 1;
    $conf =~ s/listen 127\.0\.0\.1:\Q$port1\E;/listen 127.0.0.1:$port;/;
    $conf =~ s/\Q$run\E\//$dir\//g;             # pid, logs, temp paths
    $conf =~ s/^worker_processes\s+\d+;/worker_processes $o{workers};/m
        if $o{workers};
    $o{edit}->($conf) if $o{edit};
    my $self = bless { dir => $dir, port => $port, run => $run,
                       url => "http://127.0.0.1:$port" }, $class;
    $self->write_conf($conf);
    return $self;
}

sub url { $_[0]{url} }
sub dir { $_[0]{dir} }
sub conf { $_[0]{conf} }

sub write_conf {
    my ($self, $conf) = @_;
    open my $out, '>', "$self->{dir}/nginx.conf" or die;
    print $out $conf;
    close $out;
    $self->{conf} = $conf;
}

# nginx with @args; its own output goes to a file (a daemon must not hold
# prove's pipe); 0 where it worked
sub nginx {
    my ($self, @args) = @_;
    my $preload = '';
    if ($ENV{SANITIZE}) {
        $preload = 'LD_PRELOAD=' . (`gcc -print-file-name=libasan.so` =~ s/\s+$//r)
                   . ' ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ';
    }
    my $d = $self->{dir};
    return system($preload . join(' ', '/usr/sbin/nginx', '-p', "$d/", '-c',
                                  "$d/nginx.conf", '-e', "$d/logs/error.log",
                                  @args)
                  . " >>$d/logs/stderr.log 2>&1");
}

# starts it and waits for it to answer: true where it does
sub start {
    my ($self) = @_;
    $self->nginx == 0 or return 0;
    $self->{started} = 1;
    return wait_until(10, sub {
        (HTTP::Tiny->new(timeout => 2)->get("$self->{url}/ping")->{status} // 0)
            == 204 });
}

# reloads, and waits until the workers of before have left (until then,
# both old and new ones take connections)
sub reload {
    my ($self) = @_;
    my @old = $self->workers;
    $self->nginx('-s', 'reload') == 0 or return 0;
    return wait_until(15, sub { !grep { kill 0, $_ } @old });
}

# the pids of the master's children
sub workers {
    my ($self) = @_;
    my $master = $self->pid or return ();
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my ($pid, $ppid) = (<$fh> // '') =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @pids, $pid if $ppid == $master;
    }
    return @pids;
}

sub pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/nginx.pid" or return undef;
    my $pid = <$fh> // '';
    return $pid =~ /^(\d+)/ ? $1 : undef;
}

sub stop {
    my ($self) = @_;
    my $pid = $self->pid or return 1;
    kill 'QUIT', $pid;
    return wait_until(15, sub { !kill 0, $pid });
}

sub log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/logs/error.log" or return '';
    local $/;
    return scalar <$fh> // '';
}

# its error log's alerts, emergencies and sanitizer reports
sub bad_log {
    my ($self) = @_;
    return grep { /\[alert\]|\[emerg\]|AddressSanitizer|LeakSanitizer|runtime error:/ }
           split /\n/, $self->log;
}

# Cvc::Http's api(), sent to this node
sub api {
    my ($self, @args) = @_;
    local $ENV{CVC_TEST_URL} = $self->{url};
    return Cvc::Http::api(@args);
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop if $self->{started};
}

1;
