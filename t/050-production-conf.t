# conf/production.example.conf: it loads, serves the API over TLS with the
# Secure session cookie, and has no test clock.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use lib 't/lib';
use CvcTest;

my $root = $ENV{CVC_ROOT};
my $module = abs_path($ENV{CVC_MODULE} // "$root/build/ngx_http_cvc_module.so");
my $dir = tempdir('cvc-prod-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
mkdir "$dir/$_" for qw(logs tmp);

my ($port, $ops_port) = (free_port(), free_port());
my $token = 'p' x 40;

system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
       . "-subj /CN=127.0.0.1 -keyout $dir/key.pem "
       . "-out $dir/cert.pem 2>/dev/null") == 0
    or BAIL_OUT('openssl could not make a certificate');
system("umask 077 && openssl rand -out $dir/payment_code.key 32") == 0
    or BAIL_OUT('openssl could not make a key');

my %vars = (MODULE => $module, RUN => $dir, PG_HOST => '127.0.0.1',
            PG_PORT => $ENV{CVC_PG_PORT}, REDIS_HOST => '127.0.0.1',
            REDIS_PORT => $ENV{CVC_REDIS_PORT},
            PUBLIC_URL => "https://127.0.0.1:$port",
            TRUSTED_PROXY => '127.0.0.1', PORT => "127.0.0.1:$port",
            CERT => "$dir/cert.pem", CERT_KEY => "$dir/key.pem",
            PAYMENT_CODE_KEY => "$dir/payment_code.key",
            OPS_LISTEN => "127.0.0.1:$ops_port", OPS_TOKEN => $token,
            METRICS_FROM => '192.0.2.0/24',
            SMTP_HOST => '127.0.0.1', SMTP_PORT => $ENV{CVC_SMTP_PORT},
            MAIL_DOMAIN => 'example.fr');

open my $in, '<', "$root/conf/production.example.conf" or die $!;
my $conf = do { local $/; <$in> };
$conf =~ s/\@([A-Z_]+)\@/$vars{$1} \/\/ die "no value for $1"/ge;
$conf =~ s/worker_processes auto;/worker_processes 1;/;
open my $out, '>', "$dir/nginx.conf" or die $!;
print $out $conf;
close $out;

my @nginx = ('/usr/sbin/nginx', '-p', $dir, '-c', "$dir/nginx.conf", '-e',
             "$dir/logs/error.log");
# a sanitized module needs the runtime preloaded, as scripts/stack does
# (in nginx alone: curl hangs with it)
my $preload = '';
if ($ENV{SANITIZE}) {
    $preload = 'LD_PRELOAD=' . (`gcc -print-file-name=libasan.so` =~ s/\s+$//r)
               . ' ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ';
}

# nginx's own output goes to a file: a daemon must not hold prove's pipe
sub nginx {
    system($preload . join(' ', @nginx, @_) . " >>$dir/logs/stderr.log 2>&1");
}

is(nginx('-q', '-t'), 0, 'the production example is valid');
is(nginx(), 0, 'nginx starts with it');

END {
    if (-f "$dir/nginx.pid") {
        nginx('-s', 'quit');
        for (1 .. 50) { last unless -f "$dir/nginx.pid"; select undef, undef, undef, 0.1 }
    }
}

sub curl {
    my @args = @_;
    my $out = `curl -sk --max-time 10 -o - -D - @args`;
    my ($head, $body) = split /\r\n\r\n/, $out, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\S+ (\d+)};
    return { status => $status // 0, head => $head // '', body => $body // '' };
}

ok(wait_until(5, sub { curl("https://127.0.0.1:$port/api/v1/health")->{status} == 200 }),
   'health over TLS');

my $r = curl('-X', 'PUT', '-H', "'Authorization: Bearer $token'",
             '-H', "'Content-Type: application/json'",
             '-d', q('{"now": "2030-01-01T00:00:00Z"}'),
             "http://127.0.0.1:$ops_port/ops/v1/clock");
is($r->{status}, 404, 'PUT /ops/v1/clock: absent');
like($r->{body}, qr/"code":"not_found"/, 'not_found');

$r = curl('-X', 'DELETE', '-H', "'Authorization: Bearer $token'",
          "http://127.0.0.1:$ops_port/ops/v1/clock");
is($r->{status}, 404, 'DELETE /ops/v1/clock: absent');

$r = curl("http://127.0.0.1:$ops_port/metrics");
is($r->{status}, 200, 'the metrics, on the internal listener');
like($r->{body}, qr/^cvc_http_requests_total\{method="GET",route="\/api\/v1\/health",status="2xx"\} \d+$/m,
     '... with the health checks counted');
is(curl("https://127.0.0.1:$port/metrics")->{status}, 404,
   '... and not on the public one');

$r = curl("https://127.0.0.1:$port/ops/v1/conventions");
is($r->{status}, 404, 'no ops API on the public listener');

# a login gets the __Host- cookie, Secure
my $id = unique_digits(6);
my $password = 'production password 1';
is(ops(POST => '/ops/v1/conventions',
       { id => $id, name => 'Prod', email => 'prod@example.fr',
         password => $password })->{status}, 201, 'a convention');

$r = curl('-H', "'Content-Type: application/json'",
          '-d', qq('{"login": "$id", "password": "$password"}'),
          "https://127.0.0.1:$port/api/v1/merchant/sessions");
is($r->{status}, 201, 'login over TLS');
like($r->{head}, qr/^Set-Cookie: __Host-cvc_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Secure\r?$/mi,
     'the cookie is __Host-cvc_session, Secure, HttpOnly, SameSite=Strict');

# stopped cleanly, with nothing alarming in its log
nginx('-s', 'quit');
ok(wait_until(10, sub { !-f "$dir/nginx.pid" }), 'nginx stops');
open my $log, '<', "$dir/logs/error.log" or die $!;
my @bad = grep { /\[alert\]|\[emerg\]|AddressSanitizer|runtime error:/ } <$log>;
is_deeply(\@bad, [], 'no alert in its error log');

done_testing;
