# The lock of a 3rd wrong password ends every session of the account (at a
# merchant login, at a customer login, at a payment-code change), and a
# merchant session and a customer session live side by side in one
# browser: each has its cookie, and a route reads only its own.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.121');

sub me { api_as($_[0], GET => '/api/v1/merchant/me')->{status} }
sub customer_me { api_as($_[0], GET => '/api/v1/customer/me')->{status} }

# ---- a merchant's 3rd wrong password --------------------------------------------------

my $conv = new_convention();
my $pos = new_pos($conv);
my $other = new_pos($conv);
my @s = map { merchant_login($pos->{id}, $pos->{password}) } 1 .. 2;
my $bystander = merchant_login($other->{id}, $other->{password});
is(me($_->{token}), 200, 'a session of the point of sale works') for @s;

merchant_login_r($pos->{id}, wrong_password()) for 1 .. 2;
is(me($s[0]{token}), 200, 'two wrong passwords: the sessions still work');
error_ok(merchant_login_r($pos->{id}, wrong_password()), 423,
         'account_locked', 'the 3rd wrong password');
is(me($_->{token}), 401, 'the lock ended a session of the account: 401')
    for @s;
is(me($bystander->{token}), 200, '... not those of another account');
is(redis_cli('exists', "cvc:sessions:point_of_sale:$pos->{id}"), 0,
   '... nor its list of sessions in Redis');
error_ok(merchant_login_r($pos->{id}, $pos->{password}), 423,
         'account_locked', 'the right password, once locked');

# ---- a customer's 3rd wrong password, at login and at a code change ----------------

my $ben = new_beneficiary();
my $c = customer_login($ben->{id}, $ben->{password});
is(customer_me($c->{token}), 200, 'a customer session works');
customer_login_r($ben->{id}, wrong_password()) for 1 .. 2;
error_ok(customer_login_r($ben->{id}, wrong_password()), 423, 'account_locked',
         "a customer's 3rd wrong password");
is(customer_me($c->{token}), 401, '... ended the session');

my $ben2 = new_beneficiary();
my @c = map { customer_login($ben2->{id}, $ben2->{password}) } 1 .. 2;
for my $n (1 .. 2) {
    my $r = api_as($c[0]{token}, PUT => '/api/v1/customer/payment-code',
                   { password => wrong_password(), payment_code => '123987' });
    is($r->{status}, 403, "a wrong password at a code change ($n): 403");
}
is(customer_me($c[1]{token}), 200, '... the sessions still work');
error_ok(api_as($c[0]{token}, PUT => '/api/v1/customer/payment-code',
                { password => wrong_password(), payment_code => '123987' }),
         423, 'account_locked', 'the 3rd wrong password at a code change');
is(customer_me($_->{token}), 401, '... ended every session of the customer')
    for @c;

# ---- two cookies ---------------------------------------------------------------

my $pos2 = new_pos($conv);
my $ben3 = new_beneficiary();
my $mr = merchant_login_r($pos2->{id}, $pos2->{password});
my $cr = customer_login_r($ben3->{id}, $ben3->{password});
my ($mc) = ($mr->{headers}{'set-cookie'} // '') =~ /^cvc_session=([^;]+);/;
my ($cc) = ($cr->{headers}{'set-cookie'} // '') =~ /^cvc_customer_session=([^;]+);/;
ok($mc, 'a merchant login sets cvc_session')
    or diag $mr->{headers}{'set-cookie'};
ok($cc, 'a customer login sets cvc_customer_session')
    or diag $cr->{headers}{'set-cookie'};
my $jar = "cvc_session=$mc; cvc_customer_session=$cc";
is(call(GET => '/api/v1/merchant/me', undef, Cookie => $jar)->{status}, 200,
   'one browser with both cookies: the merchant space works');
is(call(GET => '/api/v1/customer/me', undef, Cookie => $jar)->{status}, 200,
   '... and so does the customer app');
is(call(GET => '/api/v1/merchant/me', undef,
        Cookie => "cvc_session=$cc")->{status}, 403,
   "a customer's token in the merchant cookie: not a merchant (403)");
is(call(GET => '/api/v1/customer/me', undef,
        Cookie => "cvc_customer_session=$mc")->{status}, 403,
   "a merchant's token in the customer cookie: not a customer (403)");
is(call(GET => '/api/v1/customer/me', undef,
        Cookie => "cvc_session=$mc")->{status}, 401,
   'the customer app does not read the merchant cookie');

my $out = call(DELETE => '/api/v1/customer/sessions/current', undef,
               Cookie => $jar, 'X-CSRF-Token' => $cr->{json}{csrf_token});
is($out->{status}, 204, 'the customer logs out');
like($out->{headers}{'set-cookie'} // '', qr/^cvc_customer_session=; .*Max-Age=0/,
     '... which clears the customer cookie only');
is(call(GET => '/api/v1/merchant/me', undef, Cookie => $jar)->{status}, 200,
   '... the merchant session goes on');

done_testing;
