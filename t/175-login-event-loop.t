# Logins hash passwords with scrypt on the thread pool: with one worker,
# 20 concurrent logins (right and wrong passwords) don't delay a plain
# "return 204" location of the same server. (At most 3 tries of one
# account's password are checked at once: the logins are spread so that
# none waits for that.)
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ':sys_wait_h';
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.175');

my @conv = map { new_convention() } 1 .. 2;
my @pos = map { new_pos($conv[0]) } 1 .. 4;
my @ben = map { new_beneficiary() } 1 .. 2;

# 20 logins: 12 right (merchants and a customer), 8 wrong on accounts
# that stay below the lock
my ($res, $slowest, $pings) = ping_during(sub {
    my $t0 = time;
    my @r = parallel(20, sub {
        my $i = shift;
        my $r;
        if ($i < 8) {
            my $p = $pos[$i % 4];
            $r = merchant_login_r($p->{id}, $p->{password});
        } elsif ($i < 12) {
            my $b = $ben[$i % 2];
            $r = customer_login_r($b->{id}, $b->{password});
        } elsif ($i < 16) {
            my $c = $conv[$i % 2];
            $r = merchant_login_r($c->{id}, $c->{password});
        } else {
            $r = merchant_login_r($pos[$i % 4]{id},
                                  'Wrong-' . unique_digits(8) . '-password');
        }
        return { i => $i, status => $r->{status},
                 token => eval { $r->{json}{token} } };
    });
    return { took => time - $t0, results => \@r };
});

my $work = $res->[0];
my @r = @{ $work->{results} };
is(scalar(grep { $_->{i} < 16 && $_->{status} == 201 } @r), 16,
   '16 right passwords: 201')
    or diag join ' ', map { "$_->{i}:$_->{status}" } @r;
is(scalar(grep { $_->{i} >= 16 && $_->{status} == 401 } @r), 4,
   '4 wrong ones: 401');
my %tokens = map { $_->{token} => 1 } grep { defined $_->{token} } @r;
is(scalar(keys %tokens), 16, 'each session its own token');
cmp_ok($pings, '>=', 3, "pinged $pings times during the logins");
cmp_ok($slowest, '<', 0.5,
       sprintf('the plain location answered at once (slowest %.3f s, '
               . 'logins took %.2f s)', $slowest, $work->{took}));

done_testing;
