# Merchant sessions: bearer token or cookie, CSRF on the cookie's non-GET
# requests, logout, and the end of a session after 15 minutes idle or
# 12 hours in all (with the test clock).
use strict;
use warnings;
use Test::More;
use Time::HiRes ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.120');
reset_clock();

my $conv = new_convention();
my $pos = new_pos($conv);

sub me { my ($token) = @_; return api_as($token, GET => '/api/v1/merchant/me') }

sub with_cookie {
    my ($cookie, $method, $path, $body, %h) = @_;
    return call($method, $path, $body, Cookie => "cvc_session=$cookie", %h);
}

# ---- bearer -----------------------------------------------------------------

my $s = merchant_login($conv->{id}, $conv->{password});
my $r = me($s->{token});
is($r->{status}, 200, 'bearer token: GET /merchant/me 200');
is($r->{json}{account}{id}, $conv->{id}, '... as the admin');

error_ok(call(GET => '/api/v1/merchant/me'), 401, 'unauthenticated',
         'no credential');
error_ok(me('x' x 43), 401, 'unauthenticated', 'a garbage token');
error_ok(me(substr($s->{token}, 0, -1)), 401, 'unauthenticated',
         'the token less its last character');
error_ok(call(GET => '/api/v1/merchant/me', undef,
              Authorization => 'Bearer'), 401, 'unauthenticated',
         'an empty bearer');
error_ok(call(GET => '/api/v1/merchant/me', undef,
              Authorization => "Basic $s->{token}"), 401, 'unauthenticated',
         'the token in another scheme');
error_ok(call(GET => '/api/v1/merchant/me', undef,
              Authorization => "Bearer $s->{csrf_token}"), 401,
         'unauthenticated', 'the CSRF token is no session token');
error_ok(with_cookie('y' x 43, GET => '/api/v1/merchant/me'), 401,
         'unauthenticated', 'a garbage cookie');

# a bearer token needs no CSRF token
$r = api_as($s->{token}, POST => "/api/v1/points-of-sale/$pos->{id}/api-keys",
            { name => 'bearer, no CSRF' });
is($r->{status}, 201, 'bearer: a POST without X-CSRF-Token is fine');
remember_secret($r->{json}{secret}, 'api_key');

# ---- cookie -------------------------------------------------------------------

my $c = merchant_login($conv->{id}, $conv->{password});
ok(defined $c->{_cookie} && length $c->{_cookie}, 'login set the cookie');
my $cookie = $c->{_cookie} // 'none';

$r = with_cookie($cookie, GET => '/api/v1/merchant/me');
is($r->{status}, 200, 'cookie: a GET needs no CSRF token');
is($r->{json}{account}{id}, $conv->{id}, '... as the admin');

my $keys = "/api/v1/points-of-sale/$pos->{id}/api-keys";
$r = with_cookie($cookie, POST => $keys, { name => 'no csrf' });
error_ok($r, 403, 'csrf_failed', 'cookie: a POST without X-CSRF-Token');
$r = with_cookie($cookie, POST => $keys, { name => 'wrong csrf' },
                 'X-CSRF-Token' => 'z' x 43);
error_ok($r, 403, 'csrf_failed', 'cookie: a wrong X-CSRF-Token');
$r = with_cookie($cookie, POST => $keys, { name => 'empty csrf' },
                 'X-CSRF-Token' => '');
error_ok($r, 403, 'csrf_failed', 'cookie: an empty X-CSRF-Token');
$r = with_cookie($cookie, POST => $keys, { name => 'other csrf' },
                 'X-CSRF-Token' => $s->{csrf_token});
error_ok($r, 403, 'csrf_failed', "cookie: another session's CSRF token");
$r = with_cookie($cookie, POST => $keys, '{"name": ',
                 'Content-Type' => 'application/json');
error_ok($r, 403, 'csrf_failed',
         'cookie, no CSRF token, malformed JSON: the credential first');
$r = with_cookie($cookie, PUT => "/api/v1/points-of-sale/$pos->{id}/webhook",
                 { url => 'https://example.com/hook' });
error_ok($r, 403, 'csrf_failed', 'cookie: a PUT without X-CSRF-Token');
$r = with_cookie($cookie, DELETE => '/api/v1/merchant/sessions/current');
error_ok($r, 403, 'csrf_failed', 'cookie: a DELETE without X-CSRF-Token');
is(with_cookie($cookie, GET => '/api/v1/merchant/me')->{status}, 200,
   '... did not log out');
my $list = api_as($s->{token}, GET => $keys)->{json}{data} // [];
is_deeply([map { $_->{name} } @$list], ['bearer, no CSRF'],
          'the refused requests created nothing');

$r = with_cookie($cookie, POST => $keys, { name => 'with csrf' },
                 'X-CSRF-Token' => $c->{csrf_token});
is($r->{status}, 201, 'cookie + its X-CSRF-Token: 201');
remember_secret($r->{json}{secret}, 'api_key');

# bearer and cookie: the bearer decides
$r = call(GET => '/api/v1/merchant/me', undef, auth_header($s->{token}),
          Cookie => 'cvc_session=' . ('q' x 43));
is($r->{status}, 200, 'a good bearer and a garbage cookie: 200');
$r = call(GET => '/api/v1/merchant/me', undef, auth_header('q' x 43),
          Cookie => "cvc_session=$cookie");
error_ok($r, 401, 'unauthenticated', 'a garbage bearer and a good cookie');
$r = call(POST => $keys, { name => 'bearer wins' }, auth_header($s->{token}),
          Cookie => "cvc_session=$cookie");
is($r->{status}, 201, 'a bearer and a cookie: no CSRF token needed');
remember_secret($r->{json}{secret}, 'api_key');

# ---- logout -------------------------------------------------------------------

my $other = merchant_login($conv->{id}, $conv->{password});
$r = api_as($s->{token}, DELETE => '/api/v1/merchant/sessions/current');
is($r->{status}, 204, 'bearer logout: 204');
is($r->{raw}, '', '... no body');
error_ok(me($s->{token}), 401, 'unauthenticated', 'the token after logout');
error_ok(api_as($s->{token}, DELETE => '/api/v1/merchant/sessions/current'),
         401, 'unauthenticated', 'logging out twice');
is(me($other->{token})->{status}, 200, "the account's other session lives");

$r = with_cookie($cookie, DELETE => '/api/v1/merchant/sessions/current',
                 undef, 'X-CSRF-Token' => $c->{csrf_token});
is($r->{status}, 204, 'cookie logout with its CSRF token: 204');
error_ok(with_cookie($cookie, GET => '/api/v1/merchant/me'), 401,
         'unauthenticated', 'the cookie after logout');
error_ok(me($c->{token}), 401, 'unauthenticated',
         "... and the same session's bearer token");

error_ok(call(DELETE => '/api/v1/merchant/sessions/current'), 401,
         'unauthenticated', 'logout without a session');

# ---- the clock keeps running -----------------------------------------------

my $clock = set_clock('2026-06-24T09:33:00Z');
like($clock->{now} // '', qr/^2026-06-24T09:33:0\d/, 'clock set');
my $la = merchant_login($pos->{id}, $pos->{password});
ok(is_utc_time($la->{expires_at}), 'expires_at in RFC 3339 UTC');
my $t0 = epoch_of('2026-06-24T09:33:00Z');
my $e1 = epoch_of($la->{expires_at} // '') // 0;
cmp_ok($e1 - $t0, '>=', 15 * 60, 'expires_at: the clock + 15 minutes')
    and cmp_ok($e1 - $t0, '<=', 15 * 60 + 5, '... (within 5 s)');
Time::HiRes::sleep(2.2);
my $lb = merchant_login($pos->{id}, $pos->{password});
my $e2 = epoch_of($lb->{expires_at} // '') // 0;
cmp_ok($e2 - $e1, '>=', 2, 'the clock kept running from the instant given');
cmp_ok($e2 - $e1, '<=', 6, '... at the pace of real time');

# ---- 15 minutes idle --------------------------------------------------------

set_clock('2026-06-24T09:33:00Z');
my $s1 = merchant_login($pos->{id}, $pos->{password});
my $s2 = merchant_login($pos->{id}, $pos->{password});

set_clock(utc_time($t0 + 14 * 60));
is(me($s1->{token})->{status}, 200, 'used after 14 minutes: alive');

set_clock(utc_time($t0 + 16 * 60));
error_ok(me($s2->{token}), 401, 'unauthenticated', 'idle 16 minutes: gone');
is(me($s1->{token})->{status}, 200,
   'the one used at +14 min is alive at +16 min (sliding)');
my $s3 = merchant_login($pos->{id}, $pos->{password});
my $e3 = epoch_of($s3->{expires_at} // '') // 0;
cmp_ok(abs($e3 - ($t0 + 31 * 60)), '<=', 5,
       'a login at +16 min expires at +31 min');

set_clock(utc_time($t0 + 30 * 60));
is(me($s1->{token})->{status}, 200, 'used again 14 minutes later: alive');
set_clock(utc_time($t0 + 46 * 60));
error_ok(me($s1->{token}), 401, 'unauthenticated',
         'then idle 16 minutes: gone');
error_ok(me($s2->{token}), 401, 'unauthenticated', 'the idle one stays gone');

# ---- 12 hours at most ----------------------------------------------------------

my $t1 = epoch_of('2026-06-25T06:00:00Z');
set_clock(utc_time($t1));
my $long = merchant_login($pos->{id}, $pos->{password});
my @dead;
for my $k (1 .. 51) {
    set_clock(utc_time($t1 + $k * 14 * 60));
    my $st = me($long->{token})->{status};
    push @dead, "+${\ ($k * 14)} min: $st" if $st != 200;
}
ok(!@dead, 'used every 14 minutes: alive until +11 h 54 min')
    or diag "@dead";
my $late = merchant_login($pos->{id}, $pos->{password});
my $cap = epoch_of($late->{expires_at} // '') // 0;
cmp_ok(abs($cap - ($t1 + 51 * 14 * 60 + 15 * 60)), '<=', 5,
       'a login at +11 h 54 min expires 15 minutes later (its own 12 h)');

set_clock(utc_time($t1 + 12 * 3600 + 60));
error_ok(me($long->{token}), 401, 'unauthenticated',
         'at +12 h 01 min, though used 7 minutes ago: gone');
is(me($late->{token})->{status}, 200,
   '... while the session opened at +11 h 54 min lives');
set_clock(utc_time($t1 + 52 * 14 * 60));
error_ok(me($long->{token}), 401, 'unauthenticated',
         'at +12 h 08 min: still gone');

my $fresh = merchant_login($pos->{id}, $pos->{password});
is(me($fresh->{token})->{status}, 200, 'a new login works meanwhile');

is(reset_clock(), 204, 'clock back to real time');
my $t = time;
my $after = merchant_login($pos->{id}, $pos->{password});
cmp_ok(abs((epoch_of($after->{expires_at} // '') // 0) - ($t + 900)), '<=', 10,
       'expires_at follows the real clock again');

done_testing;
