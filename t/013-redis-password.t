# cvc_redis_password_file: a Redis with requirepass. A second nginx talks
# to one through AUTH (sessions work); with a wrong password, health says
# Redis is down and the error log says AUTH was refused, without the
# password; a file that can't hold one stops nginx from starting.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use lib 't/lib';
use CvcTest;
use CvcNode;

client_ip('192.0.2.13');

my $password = 'redis-' . unique_digits(12) . '-pass';
remember_secret($password, 'password');
my $port = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Proto => 'tcp', Listen => 1)->sockport;
my $rdir = "$ENV{CVC_TEST_DIR}/tmp/redis-auth";
mkdir $rdir;
system('redis-server', '--port', $port, '--bind', '127.0.0.1',
       '--requirepass', $password, '--save', '', '--appendonly', 'no',
       '--daemonize', 'yes', '--dir', $rdir, '--pidfile', "$rdir/redis.pid",
       '--logfile', "$rdir/redis.log") == 0 or BAIL_OUT('no redis-server');
END {
    if (open my $fh, '<', "$rdir/redis.pid") {
        my $pid = <$fh>;
        kill 'TERM', $pid if $pid && $pid =~ /^\d+$/;
    }
}
sub put_file {
    my ($file, $text) = @_;
    open my $fh, '>', $file or die;
    print $fh $text;
    close $fh;
    chmod 0600, $file;
}

my $node = CvcNode->new(edit => sub {
    $_[0] =~ s/cvc_redis 127\.0\.0\.1:\d+;/cvc_redis 127.0.0.1:$port;\n    cvc_redis_password_file redis.pass;/
        or die 'no cvc_redis line';
});
put_file($node->dir . '/redis.pass', "$password\n");
ok($node->start, 'nginx with cvc_redis_password_file starts');

my $r = $node->api(GET => '/api/v1/health');
is($r->{status}, 200, 'health: 200');
is($r->{json}{redis}, 'ok', '... Redis ok, through AUTH');
my $conv = new_convention();
$r = $node->api(POST => '/api/v1/merchant/sessions',
                { login => $conv->{id}, password => $conv->{password} });
is($r->{status}, 201, 'a login: its session is in the Redis with a password');
is($node->api(GET => '/api/v1/merchant/me', undef,
              Authorization => "Bearer $r->{json}{token}")->{status},
   200, '... and read back from it');

# a wrong password: every new connection is refused
put_file($node->dir . '/redis.pass', "not-$password\n");
ok($node->reload, 'reloaded with a wrong password');
ok(wait_until(10, sub { ($node->api(GET => '/api/v1/health')->{json}{redis} // '') eq 'down' }),
   'health: Redis down');
my @h = map { $node->api(GET => '/api/v1/health') } 1 .. 5;
is_deeply([map { $_->{status} } @h], [(503) x 5], '... 503, each time')
    or diag explain [map { $_->{raw} } @h];
like($node->log, qr/cvc redis: AUTH refused: \S.*\(cvc_redis_password_file\)/,
     'the error log says AUTH was refused');
unlike($node->log, qr/\Q$password\E/, '... and never the password');

# a file without a password: nginx -t says so
put_file($node->dir . '/redis.pass', "\n");
isnt($node->nginx('-t'), 0, 'an empty password file: nginx -t fails');
like(do { open my $fh, '<', $node->dir . '/logs/stderr.log'; local $/; <$fh> // '' },
     qr/cvc_redis_password_file: the file must hold the password/,
     '... and says why');

ok($node->stop, 'the node stops');
unlike($node->log, qr/\[alert\]/, 'no alert in its error log');

done_testing;
