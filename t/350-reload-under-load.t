# Zero-downtime reloads: 64 connections keep sending requests (creates,
# reads, lists, health, logins whose scrypt runs in the thread pool)
# while nginx is reloaded 10 times. Every request is answered, never with
# a 5xx, and a create's e-mail is sent once, whichever worker had it
# (t/lib/CvcLoad.pm).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use lib 't/lib';
use CvcTest;
use CvcLoad;

client_ip('192.0.2.35');

my $master = do { open my $fh, '<', "$ENV{CVC_TEST_DIR}/nginx.pid" or die;
                  local $/; <$fh> =~ s/\s+//gr };
my $sum = under_load(64, sub {
    sleep 1.5;
    for (1 .. 10) {
        kill('HUP', $master) or die "kill -HUP $master: $!";
        sleep 1;
    }
    sleep 1;
});
load_ok($sum, '64 connections, 10 reloads');
unlike(error_log(), qr/\[alert\]|exited on signal/,
       'no alert, no crash in error.log');

done_testing;
