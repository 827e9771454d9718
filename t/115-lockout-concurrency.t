# The lockout under concurrency, and its durability: ten wrong passwords
# at once lock the account (never more than two answered 401; at most 3
# checked at once, the others 429 while those are), the right
# password sent with wrong ones after the lock never opens a session, one
# e-mail and one audit row per lock, and a Redis flush forgets no lock.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.115');

my $conv = new_convention();
my $pos = new_pos($conv);
my $other = new_pos($conv);

# ---- ten wrong passwords at once --------------------------------------------

my @res = parallel(10, sub {
    my $r = merchant_login_r($pos->{id}, wrong_password());
    return { status => $r->{status},
             code => eval { $r->{json}{error}{code} },
             left => eval { $r->{json}{error}{attempts_left} } };
});

my @statuses = sort map { $_->{status} } @res;
is(scalar(grep { $_ == 401 || $_ == 423 || $_ == 429 } @statuses), 10,
   'ten concurrent wrong passwords: each 401, 423 or 429')
    or diag "statuses: @statuses";
my @unlocked = grep { $_->{status} == 401 } @res;
cmp_ok(scalar @unlocked, '<=', 2, 'at most two answered 401 (3 strikes)')
    or diag "statuses: @statuses";
my %left = map { ($_->{left} // 'none') => 1 } @unlocked;
is(scalar(keys %left), scalar @unlocked,
   'each 401 announced a different attempts_left');
ok(!grep({ !/^[12]\z/ } keys %left), '... 2 or 1');
is(scalar(grep { $_->{status} == 423 || $_->{status} == 429 } @res),
   10 - @unlocked, 'the others: 423, or 429 while 3 were being checked');
ok(!grep({ $_->{status} == 423 && ($_->{code} // '') ne 'account_locked' }
         @res), '... account_locked');
ok(!grep({ $_->{status} == 429 && ($_->{code} // '') ne 'rate_limited' }
         @res), '... rate_limited');

my $r = merchant_login_r($pos->{id}, $pos->{password});
error_ok($r, 423, 'account_locked', 'then the right password: locked');

is(scalar @{ outbox(kind => 'email', template => 'account_locked',
                    recipient => $pos->{email}) }, 1,
   'exactly one "account_locked" e-mail');
is(scalar @{ audit_rows(event => 'account_locked',
                        account => "point_of_sale:$pos->{id}") }, 1,
   'exactly one account_locked audit row');

# ---- the right password among wrong ones, after the lock ------------------

@res = parallel(10, sub {
    my $i = shift;
    my $r = merchant_login_r($pos->{id},
                             $i % 3 == 0 ? $pos->{password} : wrong_password());
    return { status => $r->{status}, token => eval { $r->{json}{token} } };
});
is(scalar(grep { $_->{status} == 201 || defined $_->{token} } @res), 0,
   'right and wrong passwords at once on a locked account: no session');
is(scalar(grep { $_->{status} == 423 } @res), 10, '... all 423');

# ---- the lock survives Redis ------------------------------------------------

is(redis_cli('flushall'), 'OK', 'Redis flushed');
error_ok(merchant_login_r($pos->{id}, $pos->{password}), 423,
         'account_locked', 'after a Redis flush: still locked');
error_ok(merchant_login_r($pos->{id}, wrong_password()), 423,
         'account_locked', '... a wrong password too');

is(scalar @{ outbox(kind => 'email', template => 'account_locked',
                    recipient => $pos->{email}) }, 1,
   'still one "account_locked" e-mail after all these attempts');

is(merchant_login_r($other->{id}, $other->{password})->{status}, 201,
   'the sibling point of sale logs in');
is(merchant_login_r($conv->{id}, $conv->{password})->{status}, 201,
   'the admin logs in');

# a flush forgets a count, never more: two wrong, flush, two wrong, right
my $p2 = new_pos($conv);
merchant_login_r($p2->{id}, wrong_password()) for 1 .. 2;
redis_cli('flushall');
$r = merchant_login_r($p2->{id}, wrong_password());
is($r->{status}, 401, 'a flushed count starts again: 401');
is(eval { $r->{json}{error}{attempts_left} }, 2, '... attempts_left 2');
$r = merchant_login_r($p2->{id}, $p2->{password});
is($r->{status}, 201, '... and the account is open');

# ---- concurrent wrong passwords on an admin ----------------------------------

my $conv2 = new_convention();
@res = parallel(6, sub {
    my $r = merchant_login_r($conv2->{id}, wrong_password());
    return $r->{status};
});
cmp_ok(scalar(grep { $_ == 401 } @res), '<=', 2,
       'six at once on an admin: at most two 401') or diag "@res";
error_ok(merchant_login_r($conv2->{id}, $conv2->{password}), 423,
         'account_locked', '... then locked');
is(scalar @{ outbox(kind => 'email', template => 'account_locked',
                    recipient => $conv2->{email}) }, 1,
   '... with one e-mail');

done_testing;
