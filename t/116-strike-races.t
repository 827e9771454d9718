# The 3 strikes against parallel guesses, for each secret they guard: a
# merchant's password at login, a customer's payment code at payment, the
# customer's password when it changes the payment code. N wrong guesses
# sent at once, then the right one: the account (or the code) ends locked,
# nothing was paid, no code changed, no session opened, and only 3 guesses
# were ever checked, whatever N. Before, every guess that came before the
# lock was written got checked (the lock was read once, before hashing),
# and a right payment code after the lock still paid.
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.116');

my $conv = new_convention();
my $m = merchant_login($conv->{id}, $conv->{password});

# burst($n, $account, $wrong, $right): $n wrong tries at once, and the
# right one once 3 are wrong or being checked (Redis's cvc:strikes: and
# cvc:trying: of the account; 50 ms at least, 2 s at most) -> (statuses of
# the wrong ones, the right one's response as {status, code, token})
sub burst {
    my ($n, $account, $wrong, $right) = @_;
    my @res = parallel($n + 1, sub {
        my $i = shift;
        if ($i == $n) {
            Time::HiRes::sleep(0.05);
            wait_until(2, sub {
                (redis_cli('GET', "cvc:strikes:$account") || 0)
                + (redis_cli('GET', "cvc:trying:cvc:strikes:$account") || 0)
                >= 3 });
            my $r = $right->();
            return { status => $r->{status},
                     code => eval { $r->{json}{error}{code} },
                     token => eval { $r->{json}{token} } };
        }
        return { status => $wrong->($i)->{status} };
    });
    my $last = pop @res;
    return ([map { $_->{status} } @res], $last);
}

# the right secret among wrong ones: 423 once they are counted, or 429
# (rate_limited) while they are being checked; never let in
sub refused_ok {
    my ($r, $locked, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(($r->{status} == 423 && ($r->{code} // '') eq $locked)
       || ($r->{status} == 429 && ($r->{code} // '') eq 'rate_limited'),
       "$what: 423 $locked or 429 rate_limited")
        or diag "got $r->{status} " . ($r->{code} // '');
}

for my $n (3, 8, 50) {

    # ---- a merchant's password ---------------------------------------------

    my $pos = new_pos($conv);
    my $account = "point_of_sale:$pos->{id}";
    my ($wrong, $right) = burst($n, $account,
        sub { merchant_login_r($pos->{id}, wrong_password()) },
        sub { merchant_login_r($pos->{id}, $pos->{password}) });

    is(scalar(grep { $_ != 401 && $_ != 423 && $_ != 429 } @$wrong), 0,
       "login, $n wrong at once: each 401, 423 or 429") or diag "@$wrong";
    refused_ok($right, 'account_locked', "login, $n wrong then the right one");
    ok(!defined $right->{token}, '... no session for it');
    is(scalar @{ audit_rows(event => 'login_failed', account => $account) }, 3,
       "... only 3 of the $n wrong passwords were checked");
    error_ok(merchant_login_r($pos->{id}, $pos->{password}), 423,
             'account_locked', "login after $n wrong: locked");
    is(scalar @{ audit_rows(event => 'login_succeeded',
                            account => $account) }, 0, '... never logged in');

    # ---- a customer's payment code -----------------------------------------

    my $ben = new_beneficiary(balance => 10_000);
    my $c = customer_login($ben->{id}, $ben->{password});
    my $pr = new_request($m->{token}, point_of_sale => $pos->{id},
                         customer => $ben->{id}, amount => 1000);
    ($wrong, $right) = burst($n, "payment_code:$ben->{id}",
        sub { pay_request($c->{token}, $pr->{id}, wrong_code($ben->{payment_code})) },
        sub { pay_request($c->{token}, $pr->{id}, $ben->{payment_code}) });

    is(scalar(grep { $_ != 403 && $_ != 423 && $_ != 429 } @$wrong), 0,
       "pay, $n wrong codes at once: each 403, 423 or 429") or diag "@$wrong";
    refused_ok($right, 'payment_code_locked', "pay, $n wrong then the right code");
    is(scalar @{ audit_rows(event => 'payment_code_failed',
                            account => "customer:$ben->{id}") }, 3,
       "... only 3 of the $n wrong codes were checked");
    my $r = pay_request($c->{token}, $pr->{id}, $ben->{payment_code});
    error_ok($r, 423, 'payment_code_locked', "pay after $n wrong: locked");
    is(customer_balance($c->{token}), 10_000, '... nothing was debited');
    is(get_request($m->{token}, $pr->{id})->{json}{status}, 'awaiting_payment',
       '... the request still awaits its payment');

    # ---- a customer's password, to change the payment code -----------------

    my $ben2 = new_beneficiary(balance => 5000);
    my $c2 = customer_login($ben2->{id}, $ben2->{password});
    my $hash = psql("select payment_code_hash from cvc.beneficiaries "
                    . "where id = '$ben2->{id}'");
    my $new_code = wrong_code($ben2->{payment_code});
    remember_secret($new_code, 'payment_code');
    ($wrong, $right) = burst($n, "customer:$ben2->{id}",
        sub { api_as($c2->{token}, PUT => '/api/v1/customer/payment-code',
                     { password => wrong_password(), payment_code => $new_code }) },
        sub { api_as($c2->{token}, PUT => '/api/v1/customer/payment-code',
                     { password => $ben2->{password},
                       payment_code => $new_code }) });

    is(scalar(grep { $_ != 403 && $_ != 423 && $_ != 429 } @$wrong), 0,
       "payment code change, $n wrong passwords at once: each 403, 423 or 429")
        or diag "@$wrong";
    refused_ok($right, 'account_locked', "code change, $n wrong then the right password");
    is(scalar @{ audit_rows(event => 'login_failed',
                            account => "customer:$ben2->{id}") }, 3,
       "... only 3 of the $n wrong passwords were checked");
    is(psql("select payment_code_hash from cvc.beneficiaries "
            . "where id = '$ben2->{id}'"), $hash, '... the code is unchanged');
    is(scalar @{ audit_rows(event => 'payment_code_changed',
                            account => "customer:$ben2->{id}") }, 0,
       '... and no change was recorded');
    error_ok(customer_login_r($ben2->{id}, $ben2->{password}), 423,
             'account_locked', '... the customer\'s account is locked');
}

# ---- a right secret within the 3 tries still works -------------------------

my $pos = new_pos($conv);
my @res = parallel(3, sub {
    my $i = shift;
    return merchant_login_r($pos->{id},
                            $i == 0 ? $pos->{password} : wrong_password())
           ->{status};
});
is(scalar(grep { $_ == 201 } @res), 1,
   'two wrong passwords and the right one at once: the right one logs in')
    or diag "@res";
is(merchant_login_r($pos->{id}, $pos->{password})->{status}, 201,
   '... and the account is open');

# ---- checks per account and minute -----------------------------------------

my ($rate) = do {
    open my $fh, '<', "$ENV{CVC_TEST_DIR}/nginx.conf" or die;
    local $/;
    <$fh> =~ /^\s*cvc_secret_rate\s+(\d+);/m;
};
$rate //= 30;                                        # the default
my $ben = new_beneficiary(balance => 10_000);
my $c = customer_login($ben->{id}, $ben->{password});
my $pr = new_request($m->{token}, point_of_sale => $pos->{id},
                     customer => $ben->{id}, amount => 100,
                     allow_partial => JSON::PP::true);
my %seen;
for my $i (1 .. $rate + 1) {
    # a right code on a request already paid: checked, then 409
    my $r = pay_request($c->{token}, $pr->{id}, $ben->{payment_code},
                        amount => 1);
    $seen{$r->{status}}++;
    if ($r->{status} == 429) {
        error_ok($r, 429, 'rate_limited', 'one check too many in a minute');
        ok(($r->{headers}{'retry-after'} // 0) >= 1, '... with Retry-After');
        last;
    }
}
is($seen{429}, 1, "one account gets $rate secret checks a minute");
is(($seen{200} // 0) + ($seen{409} // 0), $rate - 1,
   '... its login and the payment codes before, each checked')
    or diag explain \%seen;
is(customer_login_r($ben->{id}, $ben->{password})->{status}, 429,
   '... its logins too');
is(merchant_login_r($pos->{id}, $pos->{password})->{status}, 201,
   'another account is not held back');

done_testing();
