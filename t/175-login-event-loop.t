# Logins hash passwords with scrypt on the thread pool: with one worker,
# 20 concurrent logins (right and wrong passwords) don't delay a plain
# "return 204" location of the same server.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ':sys_wait_h';
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.175');
END { local $?; reset_clock() if $ENV{CVC_TEST_URL} }

# runs $work in a child while the parent pings /ping; returns the work's
# results and the slowest ping seen meanwhile (as t/030-event-loop.t)
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
    sleep 0.3;                      # let the work reach nginx
    my ($slowest, $pings) = (0, 0);
    while (waitpid($pid, WNOHANG) == 0) {
        my $t0 = time;
        my $r = api(GET => '/ping');
        my $took = time - $t0;
        $slowest = $took if $took > $slowest;
        $pings++ if $r->{status} == 204;
        sleep 0.05;
    }
    open my $fh, '<', $out or die "no results from the child";
    my $res = JSON::PP->new->decode(do { local $/; <$fh> });
    unlink $out;
    return ($res, $slowest, $pings);
}

my $conv = new_convention();
my @pos = map { new_pos($conv) } 1 .. 4;
my $ben = new_beneficiary();

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
            $r = customer_login_r($ben->{id}, $ben->{password});
        } elsif ($i < 16) {
            $r = merchant_login_r($conv->{id}, $conv->{password});
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
