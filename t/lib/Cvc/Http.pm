package Cvc::Http;

# Talking to the gateway over HTTP and checking its answers: api() and its
# forms (ops, call from this file's client address, api_as with a bearer
# token, raw_api for what HTTP::Tiny won't send), forked clients at the
# same moment (parallel), pings while a child works (ping_during), waiting
# for a condition, and the checks of the contract's error format.
#
#   my $r = api(POST => '/api/x', { a => 1 });   # $r->{status}, {json}, {raw}, {headers}
#   my $o = ops(GET => '/ops/health');
#   client_ip('192.0.2.110');           # X-Forwarded-For of this file's calls
#   my $r = api_as($token, GET => '/api/v1/merchant/me');
#   my @res = parallel(10, sub { my $i = shift; api(GET => "/api/y/$i")->{status} });
#   wait_until(5, sub { ... });  wait_until(5, \&health_ok);
#   error_ok($r, 422, 'validation_failed', 'bad name');
#   fields_are($r, ['name'], 'bad name');

use strict;
use warnings;
use Exporter 'import';
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use File::Temp ();
use Cvc::Stack qw(test_env);

our @EXPORT = qw(api ops call api_as auth_header client_ip xff raw_api
                 url_escape parallel ping_during wait_until health_ok
                 error_ok fields_are);
our @EXPORT_OK = qw(must);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

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
    my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my $res = $http->request($method, test_env('CVC_TEST_URL') . $path, \%req);
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
               Authorization => 'Bearer ' . test_env('CVC_OPS_TOKEN'),
               %headers);
}

# must($r, $status, $what) -> $r if its status is $status; dies otherwise
# (for the helpers that make what a test needs)
sub must {
    my ($r, $status, $what) = @_;
    return $r if $r->{status} == $status;
    die "$what: expected $status, got $r->{status} $r->{raw}\n";
}

our $CLIENT_IP;

# client_ip($ip): the X-Forwarded-For that call(), api_as() and the
# account helpers send from now on (realip trusts loopback)
sub client_ip {
    $CLIENT_IP = shift if @_;
    return $CLIENT_IP;
}

sub xff { defined $CLIENT_IP ? ('X-Forwarded-For' => $CLIENT_IP) : () }

sub auth_header { my ($token) = @_; return (Authorization => "Bearer $token") }

# call(...): api() from this file's client address
sub call {
    my ($method, $path, $body, %headers) = @_;
    return api($method, $path, $body, xff(), %headers);
}

# api_as($token, $method, $path, $body, %headers): with a bearer token
sub api_as {
    my ($token, $method, $path, $body, %headers) = @_;
    return api($method, $path, $body, xff(), auth_header($token), %headers);
}

# raw_api($method, $path, [name => value, ...], $body) -> as api(): for
# what HTTP::Tiny refuses to send (control characters or raw bytes in a
# header). HTTP/1.0, Connection: close; $body is sent as it is (bytes).
sub raw_api {
    my ($method, $path, $headers, $body) = @_;
    require IO::Socket::INET;
    my ($host) = test_env('CVC_TEST_URL') =~ m{^http://([^/]+)} or die 'bad URL';
    my $sock = IO::Socket::INET->new(PeerAddr => $host, Timeout => 30)
        or die "connect $host: $!";
    my $req = "$method $path HTTP/1.0\r\nHost: $host\r\nConnection: close\r\n";
    my @h = @{ $headers // [] };
    while (my ($k, $v) = splice @h, 0, 2) { $req .= "$k: $v\r\n" }
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');
    print {$sock} $req;
    local $/;
    my $res = <$sock> // '';
    close $sock;
    my ($head, $raw) = split /\r\n\r\n/, $res, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\d\.\d (\d{3})};
    my %hdr;
    for my $line (split /\r\n/, $head // '') {
        my ($k, $v) = $line =~ /^([^:\s]+):\s*(.*)\z/ or next;
        $k = lc $k;
        if (exists $hdr{$k}) {
            $hdr{$k} = [ref $hdr{$k} ? @{ $hdr{$k} } : $hdr{$k}, $v];
        } else {
            $hdr{$k} = $v;
        }
    }
    $raw //= '';
    my $json = length $raw ? eval { $JSON->decode($raw) } : undef;
    return { status => $status // 599, headers => \%hdr, raw => $raw,
             json => $json };
}

# url_escape($s): a query-string value, percent-encoded (cursors are opaque)
sub url_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
    return $s;
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

# ping_during($work): runs $work in a child while the parent pings /ping
# (a plain "return 204" location); returns the work's results, the slowest
# ping seen meanwhile and the number of pings. The event-loop tests use it.
sub ping_during {
    my ($work) = @_;
    my $out = "$ENV{CVC_TEST_DIR}/tmp/ping-during.$$";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my @res = $work->();
        open my $fh, '>', $out or die;
        print $fh JSON::PP->new->encode(\@res);
        close $fh;
        POSIX::_exit(0);
    }
    Time::HiRes::sleep(0.3);                      # let the work reach nginx
    my ($slowest, $pings) = (0, 0);
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        my $t0 = Time::HiRes::time();
        my $r = api(GET => '/ping');
        my $took = Time::HiRes::time() - $t0;
        $slowest = $took if $took > $slowest;
        $pings++ if $r->{status} == 204;
        Time::HiRes::sleep(0.05);
    }
    open my $fh, '<', $out or die "no results from the child";
    my $res = JSON::PP->new->decode(do { local $/; <$fh> });
    unlink $out;
    return ($res, $slowest, $pings);
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

# health_ok() -> true if GET /api/v1/health answers 200
sub health_ok { api(GET => '/api/v1/health')->{status} == 200 }

# error_ok($r, $status, $code, $name): an error in the contract's format
sub error_ok {
    my ($r, $status, $code, $name) = @_;
    local $Test::Builder::Level = ($Test::Builder::Level // 1) + 1;
    my $err = ref $r->{json} eq 'HASH' ? $r->{json}{error} : undef;
    my $ok = Test::More::is($r->{status}, $status, "$name: $status");
    $ok &= Test::More::is(ref $err eq 'HASH' ? $err->{code} : undef, $code,
                          "$name: $code");
    if (!$ok) {
        Test::More::diag("body: " . substr($r->{raw}, 0, 500));
    }
    Test::More::ok(ref $err eq 'HASH' && defined $err->{message}
                   && $err->{message} =~ /\S/, "$name: a message");
    Test::More::is(ref $err eq 'HASH' ? $err->{request_id} : undef,
                   $r->{headers}{'x-request-id'},
                   "$name: the request id, as in X-Request-Id");
    Test::More::like($r->{headers}{'content-type'} // '',
                     qr{^application/json}, "$name: JSON");
    return $ok;
}

# fields_are($r, [names], $name): error.fields names exactly these
sub fields_are {
    my ($r, $names, $name) = @_;
    local $Test::Builder::Level = ($Test::Builder::Level // 1) + 1;
    my $f = eval { $r->{json}{error}{fields} };
    my $ok = Test::More::is_deeply(
        [sort keys %{ ref $f eq 'HASH' ? $f : {} }], [sort @$names],
        "$name: fields " . join(', ', sort @$names));
    Test::More::ok(!grep({ ref $f->{$_} || !defined $f->{$_} }
                         keys %{ ref $f eq 'HASH' ? $f : {} }),
                   "$name: each field's value a string") if ref $f eq 'HASH';
    Test::More::diag("body: $r->{raw}") unless $ok;
    return $ok;
}

1;
