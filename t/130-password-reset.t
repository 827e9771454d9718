# Merchant password reset: 202 whatever the login, an e-mail with a
# single-use link valid 1 hour, a confirm that sets the password, unlocks
# the account and ends its sessions; the token kept in Redis only hashed.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(sha256_hex sha256_base64);
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.130');
reset_clock();

my $conv = new_convention();
my $pos = new_pos($conv);
my $base = $ENV{CVC_TEST_URL};

sub me { api_as($_[0], GET => '/api/v1/merchant/me') }

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

# the reset e-mails to $email, oldest first
sub reset_mails {
    my ($email) = @_;
    return outbox(kind => 'email', template => 'password_reset',
                  recipient => $email);
}

# the token of the newest reset e-mail to $email
sub reset_token {
    my ($email) = @_;
    my $mails = reset_mails($email);
    my $link = @$mails ? $mails->[-1]{payload}{link} // '' : '';
    my ($token) = $link =~ /^\Q$base\E\/reset-password\?token=([^&#\s]+)\z/;
    return undef unless defined $token;
    $token =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return remember_secret($token, 'reset_token');
}

sub count_resets {
    return psql("select count(*) from cvc.outbox "
                . "where template = 'password_reset'");
}

# ---- a locked admin asks for a reset ----------------------------------------

my $s1 = merchant_login($conv->{id}, $conv->{password});
my $s2 = merchant_login($conv->{id}, $conv->{password});
my $ps = merchant_login($pos->{id}, $pos->{password});

merchant_login_r($conv->{id}, wrong_password()) for 1 .. 3;
is(merchant_login_r($conv->{id}, $conv->{password})->{status}, 423,
   'the admin is locked');

my $before = count_resets();
my $known = request_reset($conv->{id});
is($known->{status}, 202, 'a reset for a known login: 202');
my $mails = reset_mails($conv->{email});
is(scalar @$mails, 1, 'one "password_reset" e-mail to the account');
is($mails->[0]{kind}, 'email', '... an e-mail');
like($mails->[0]{payload}{link} // '',
     qr/^\Q$base\E\/reset-password\?token=[^&#\s]{20,}\z/,
     '... with the link <public URL>/reset-password?token=<token>');
my $token = reset_token($conv->{email});
ok(defined $token, 'the link has a token');
$token //= 'none';

my $unknown = request_reset(unique_digits(6));
is($unknown->{status}, 202, 'a reset for an unknown login: 202');
my $unknown12 = request_reset(unique_digits(12));
is($unknown12->{status}, 202, 'an unknown 12-digit login: 202');
sub shape {
    my ($r) = @_;
    my $raw = $r->{raw};
    $raw =~ s/"request_id"\s*:\s*"[^"]*"//g;
    return join '|', $r->{status}, $r->{headers}{'content-type'} // '', $raw;
}
is(shape($unknown), shape($known), '... the very same answer as a known one');
is(count_resets(), $before + 1, 'no e-mail for unknown logins');

my $r = request_reset('12345');
error_ok($r, 422, 'validation_failed', 'a malformed login');
fields_are($r, ['login'], 'a malformed login');
$r = request_reset(unique_digits(11));
fields_are($r, ['login'], 'an 11-digit (customer) login');
$r = call(POST => '/api/v1/merchant/password-resets', { login => 0 + "$conv->{id}" });
fields_are($r, ['login'], 'a login as a number');
$r = call(POST => '/api/v1/merchant/password-resets', {});
fields_are($r, ['login'], 'no login');
$r = call(POST => '/api/v1/merchant/password-resets',
          { login => $conv->{id}, email => $conv->{email} });
fields_are($r, ['email'], 'an unknown field');
$r = call(POST => '/api/v1/merchant/password-resets', '{"login":',
          'Content-Type' => 'application/json');
error_ok($r, 400, 'invalid_json', 'malformed JSON');
is(count_resets(), $before + 1, 'no e-mail for bad requests');

# the token is in Redis only as its SHA-256
my $keys = redis_cli('--scan');
ok(index($keys, $token) < 0, 'no Redis key holds the raw token');
my @all = split /\n/, $keys;
my $values = @all ? redis_cli('mget', @all) : '';
ok(index($values, $token) < 0, 'no Redis string value holds the raw token');
my @digests = (sha256_hex($token), sha256_base64($token));
(my $b64url = $digests[1]) =~ tr{+/}{-_};
push @digests, $b64url;
ok(scalar(grep { index($keys, $_) >= 0 } @digests),
   '... a key holds its SHA-256 (hex or base64)')
    or diag 'keys: ' . join ' ', split /\n/, $keys;

# ---- confirm -------------------------------------------------------------------

my $new = new_password();
$r = confirm($token, 'short-11-ch');
error_ok($r, 422, 'validation_failed', 'a new password of 11 characters');
fields_are($r, ['password'], 'a new password of 11 characters');
$r = confirm($token, 'p' x 129);
fields_are($r, ['password'], 'a new password of 129 characters');
$r = call(POST => '/api/v1/merchant/password-resets/confirm',
          { token => $token });
fields_are($r, ['password'], 'no password');
$r = call(POST => '/api/v1/merchant/password-resets/confirm',
          { token => $token, password => $new, login => $conv->{id} });
fields_are($r, ['login'], 'an unknown field');
$r = call(POST => '/api/v1/merchant/password-resets/confirm',
          { token => 12345, password => $new });
fields_are($r, ['token'], 'a token as a number');
error_ok(merchant_login_r($conv->{id}, $conv->{password}), 423,
         'account_locked', 'refused confirms changed nothing');

$r = confirm($token, $new);
is($r->{status}, 204, 'confirm: 204');
is($r->{raw}, '', '... no body');

error_ok(me($s1->{token}), 401, 'unauthenticated',
         "the account's sessions ended (1)");
error_ok(me($s2->{token}), 401, 'unauthenticated',
         "the account's sessions ended (2)");
is(me($ps->{token})->{status}, 200, "another account's session lives");

$r = merchant_login_r($conv->{id}, $conv->{password});
error_ok($r, 401, 'invalid_credentials', 'the old password: unlocked, wrong');
is($r->{json}{error}{attempts_left}, 2, '... with a count started afresh');
my $s3 = merchant_login_r($conv->{id}, $new);
is($s3->{status}, 201, 'the new password logs in');

$r = confirm($token, new_password());
error_ok($r, 422, 'validation_failed', 'the same token again');
is(merchant_login_r($conv->{id}, $new)->{status}, 201,
   '... the password is still the one set');
error_ok(confirm('A' x 43, new_password()), 422, 'validation_failed',
         'an unknown token');
error_ok(confirm(substr($token, 0, -1), new_password()), 422,
         'validation_failed', 'the token less its last character');

# a new lock after the reset: a new e-mail
merchant_login_r($conv->{id}, wrong_password()) for 1 .. 3;
error_ok(merchant_login_r($conv->{id}, $new), 423, 'account_locked',
         'three wrong passwords after the reset lock it again');
is(scalar @{ outbox(kind => 'email', template => 'account_locked',
                    recipient => $conv->{email}) }, 2,
   'two locks, two "account_locked" e-mails');
is(request_reset($conv->{id})->{status}, 202, 'another reset');
my $token2 = reset_token($conv->{email}) // 'none';
isnt($token2, $token, '... another token');
$new = new_password();
is(confirm($token2, $new)->{status}, 204, '... confirmed');
is(merchant_login_r($conv->{id}, $new)->{status}, 201, '... open again');

# a point of sale: its own address
my $conv_mails = scalar @{ reset_mails($conv->{email}) };
$r = request_reset($pos->{id});
is($r->{status}, 202, 'a point of sale asks for a reset');
is(scalar @{ reset_mails($pos->{email}) }, 1,
   "... the e-mail goes to the point of sale's address");
is(scalar @{ reset_mails($conv->{email}) }, $conv_mails,
   "... not to the convention's");

# one token confirmed five times at once: one 204
my $p0 = new_pos($conv);
is(request_reset($p0->{id})->{status}, 202, 'a reset for another point');
my $tok0 = reset_token($p0->{email}) // 'none';
my @pw = map { new_password() } 0 .. 4;
my @st = parallel(5, sub {
    my $i = shift;
    return confirm($tok0, $pw[$i])->{status};
});
is(join(' ', sort @st), '204 422 422 422 422',
   'one token, five confirms at once: one 204, four 422');
my ($won) = grep { $st[$_] == 204 } 0 .. 4;
is(merchant_login_r($p0->{id}, $pw[$won // 0])->{status}, 201,
   "... the password set is the winner's");

# ---- one hour --------------------------------------------------------------------

my $p1 = new_pos($conv);
my $p2 = new_pos($conv);
my $t0 = epoch_of('2026-06-24T09:33:00Z');
set_clock(utc_time($t0));
is(request_reset($p1->{id})->{status}, 202, 'reset for P1 at T');
is(request_reset($p2->{id})->{status}, 202, 'reset for P2 at T');
my $tok1 = reset_token($p1->{email}) // 'none';
my $tok2 = reset_token($p2->{email}) // 'none';
isnt($tok1, $tok2, 'two tokens');

set_clock(utc_time($t0 + 59 * 60));
my $new1 = new_password();
is(confirm($tok1, $new1)->{status}, 204, 'P1 confirms at T + 59 min: 204');
is(merchant_login_r($p1->{id}, $new1)->{status}, 201, '... new password');

set_clock(utc_time($t0 + 61 * 60));
$r = confirm($tok2, new_password());
error_ok($r, 422, 'validation_failed', 'P2 confirms at T + 61 min: expired');
is(merchant_login_r($p2->{id}, $p2->{password})->{status}, 201,
   "... P2's password is unchanged");

is(reset_clock(), 204, 'clock back to real time');

# ---- one live link an account ----------------------------------------------
# a newer link ends the one before, and the one used ends with its reset

# the tokens of every reset e-mail to $email, oldest first
sub reset_tokens {
    my ($email) = @_;
    my @t;
    for my $m (@{ reset_mails($email) }) {
        my ($token) = ($m->{payload}{link} // '')
            =~ /^\Q$base\E\/reset-password\?token=([^&#\s]+)\z/ or next;
        $token =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        push @t, remember_secret($token, 'reset_token');
    }
    return @t;
}

my $c3 = new_convention();
is(request_reset($c3->{id})->{status}, 202, "reset link $_ of 3") for 1 .. 3;
my @t = reset_tokens($c3->{email});
is(scalar @t, 3, 'three e-mails, three links');

$r = confirm($t[0], new_password());
error_ok($r, 422, 'validation_failed', 'the first link, after newer ones');
fields_are($r, ['token'], '... the token is at fault');
error_ok(confirm($t[1], new_password()), 422, 'validation_failed',
         'the second link, after a newer one');
my $pw3 = new_password();
is(confirm($t[2], $pw3)->{status}, 204, 'the newest link resets');
error_ok(confirm($t[2], new_password()), 422, 'validation_failed',
         'the newest link, used');
error_ok(confirm($t[1], new_password()), 422, 'validation_failed',
         'the older links stay dead after the reset');
is(merchant_login_r($c3->{id}, $pw3)->{status}, 201,
   '... the password is the one set');

# another account's link is not touched by this one's
my $p3 = new_pos($c3);
is(request_reset($p3->{id})->{status}, 202, 'a link for a point of sale');
is(request_reset($c3->{id})->{status}, 202, 'then one for its admin');
is(confirm(reset_token($p3->{email}), new_password())->{status}, 204,
   'the point of sale\'s link still works');
is(redis_cli('GET', "cvc:reset-of:$p3->{id}"), '',
   'no live link is left once it is used');

done_testing;
