# A session is the five strings Redis keeps for it (kind, id, convention,
# csrf, and its end). The fuzzer (fuzz/redis.c) found that a reply with a
# field missing (nil) or of another type was copied from a NULL pointer;
# and a session whose csrf was gone let a cookie write through with an
# empty X-CSRF-Token. Now such a session is no session: 401.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(sha256_hex);
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.121');

my $conv = new_convention();

sub session_key { return 'cvc:session:' . sha256_hex($_[0]) }

sub logout_with_cookie {
    my ($s, $csrf) = @_;
    return raw_api(DELETE => '/api/v1/merchant/sessions/current',
                   [Cookie => "cvc_session=$s->{_cookie}",
                    'X-CSRF-Token' => $csrf, xff()]);
}

# ---- the session as the login left it --------------------------------------

my $s = merchant_login($conv->{id}, $conv->{password});
my $key = session_key($s->{token});
is(redis_cli('HGET', $key, 'csrf'), $s->{csrf_token},
   'the session is in Redis under the SHA-256 of its token');

error_ok(logout_with_cookie($s, ''), 403, 'csrf_failed',
         'a cookie write with an empty X-CSRF-Token');

# ---- its csrf gone: an empty X-CSRF-Token must not match it ----------------

is(redis_cli('HDEL', $key, 'csrf'), 1, 'the session loses its csrf');
error_ok(logout_with_cookie($s, ''), 401, 'unauthenticated',
         'a cookie write with an empty X-CSRF-Token, the csrf gone');
is(redis_cli('EXISTS', $key), 1, 'the session is still there (no logout)');

# ---- its convention gone: no session either --------------------------------

my $s2 = merchant_login($conv->{id}, $conv->{password});
is(redis_cli('HDEL', session_key($s2->{token}), 'convention'), 1,
   'another session loses its convention');
error_ok(api_as($s2->{token}, GET => '/api/v1/merchant/me'), 401,
         'unauthenticated', 'the bearer token of that session');

# ---- its id gone: the reply has a nil, not a string ------------------------

my $s3 = merchant_login($conv->{id}, $conv->{password});
is(redis_cli('HDEL', session_key($s3->{token}), 'id'), 1,
   'a third session loses its id');
error_ok(api_as($s3->{token}, GET => '/api/v1/merchant/me'), 401,
         'unauthenticated', 'the bearer token of that session');

# the sound sessions still work
is(api_as($s->{token}, GET => '/api/v1/merchant/me')->{status}, 401,
   'the first session stays refused');
my $s4 = merchant_login($conv->{id}, $conv->{password});
is(api_as($s4->{token}, GET => '/api/v1/merchant/me')->{status}, 200,
   'a new session works');

unlike(error_log(), qr/\[alert\]|\[emerg\]|runtime error|AddressSanitizer/,
       'no alert nor sanitizer report in the error log');

done_testing();
