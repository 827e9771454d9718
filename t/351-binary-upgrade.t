# The binary upgrade of docs/operations.md (a new nginx or a new module
# without a lost request): under 32 connections, USR2 starts a new master
# from the files on disk beside the old one, WINCH lets the old workers
# finish, QUIT ends the old master. Every request is answered, never with
# a 5xx (t/lib/CvcLoad.pm), and the new master serves alone.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use lib 't/lib';
use CvcTest;
use CvcLoad;

# nginx starts the new binary with an environment of its own (TZ and its
# `env` directives): the sanitizer's LD_PRELOAD would not follow
plan skip_all => 'the new master would run without the sanitizer runtime'
    if $ENV{SANITIZE};

client_ip('192.0.2.36');
my $run = $ENV{CVC_TEST_DIR};
sub pid_in {
    open my $fh, '<', $_[0] or return undef;
    local $/;
    return <$fh> =~ s/\s+//gr;
}
sub alive { defined $_[0] && kill 0, $_[0] }
my $old = pid_in("$run/nginx.pid");
my ($new, $steps) = (undef, '');

my $sum = under_load(32, sub {
    sleep 1;
    kill 'USR2', $old or die "USR2: $!";
    wait_until(10, sub { ($new = pid_in("$run/nginx.pid")) && $new ne $old
                         && -e "$run/nginx.pid.oldbin" }) or die "no new master\n";
    $steps .= 'usr2 ';
    sleep 2;                                # both masters' workers serve
    kill 'WINCH', $old or die "WINCH: $!";
    $steps .= 'winch ';
    sleep 2;                                # the new workers serve alone
    kill 'QUIT', $old or die "QUIT: $!";
    wait_until(20, sub { !alive($old) }) or die "the old master stays\n";
    $steps .= 'quit';
    sleep 1;
});
$new = pid_in("$run/nginx.pid");
load_ok($sum, 'USR2, WINCH, QUIT under load');
isnt($new, $old, 'a new master runs');
ok(alive($new) && !alive($old), '... alone');
ok(!-e "$run/nginx.pid.oldbin", '... and the old pid file is gone');
my $conv = new_convention();
is(merchant_login_r($conv->{id}, $conv->{password})->{status}, 201,
   'the new master serves a login');
unlike(error_log(), qr/\[alert\]|\[emerg\]|exited on signal/,
       'no alert, no crash in error.log');

done_testing;
