# One live password-reset link an account: a newer link ends the one
# before, and a link used ends with its reset (so does none other remain).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.131');

my $conv = new_convention();
my $base = $ENV{CVC_TEST_URL};

sub request_reset {
    my ($login) = @_;
    return call(POST => '/api/v1/merchant/password-resets', { login => $login });
}

sub confirm {
    my ($token, $password) = @_;
    remember_secret($password, 'password');
    return call(POST => '/api/v1/merchant/password-resets/confirm',
                { token => $token, password => $password });
}

# the tokens of every reset e-mail to $email, oldest first
sub tokens {
    my ($email) = @_;
    my @t;
    for my $m (@{ outbox(kind => 'email', template => 'password_reset',
                         recipient => $email) })
    {
        my ($token) = ($m->{payload}{link} // '')
            =~ /^\Q$base\E\/reset-password\?token=([^&#\s]+)\z/ or next;
        $token =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        push @t, remember_secret($token, 'reset_token');
    }
    return @t;
}

is(request_reset($conv->{id})->{status}, 202, 'a first reset link');
is(request_reset($conv->{id})->{status}, 202, 'a second one');
is(request_reset($conv->{id})->{status}, 202, 'a third one');
my @t = tokens($conv->{email});
is(scalar @t, 3, 'three e-mails, three links');

my $r = confirm($t[0], new_password());
error_ok($r, 422, 'validation_failed', 'the first link, after newer ones');
fields_are($r, ['token'], '... the token is at fault');
error_ok(confirm($t[1], new_password()), 422, 'validation_failed',
         'the second link, after a newer one');

my $password = new_password();
is(confirm($t[2], $password)->{status}, 204, 'the newest link resets');
is(merchant_login_r($conv->{id}, $password)->{status}, 201,
   '... to the new password');
error_ok(confirm($t[2], new_password()), 422, 'validation_failed',
         'the newest link, used');
error_ok(confirm($t[1], new_password()), 422, 'validation_failed',
         'the older links stay dead after the reset');
is(merchant_login_r($conv->{id}, $password)->{status}, 201,
   '... the password is the one set');

# another account's link is not touched by this one's
my $pos = new_pos($conv);
is(request_reset($pos->{id})->{status}, 202, 'a link for a point of sale');
is(request_reset($conv->{id})->{status}, 202, 'then one for the admin');
my ($pt) = tokens($pos->{email});
is(confirm($pt, new_password())->{status}, 204,
   'the point of sale\'s link still works');

is(redis_cli('GET', "cvc:reset-of:$pos->{id}"), '',
   'no live link is left once it is used');

done_testing();
