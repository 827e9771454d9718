# API keys (created, listed without secrets, used, revoked at once), the
# webhook (its secret kept when the URL moves), and business-days with
# every kind of credential and the French calendar.
use strict;
use warnings;
use Test::More;
use Time::Local ();
use Time::HiRes ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.160');
reset_clock();

my $conv = new_convention();
my $pos = new_pos($conv);
my $admin = merchant_login($conv->{id}, $conv->{password});
my $keys = "/api/v1/points-of-sale/$pos->{id}/api-keys";
my $hook = "/api/v1/points-of-sale/$pos->{id}/webhook";
my $bdays = '/api/v1/business-days?from=2026-06-24&add=2';

sub as_admin { api_as($admin->{token}, @_) }

# ---- API keys: create ---------------------------------------------------------------

my $t0 = time;
my $r = as_admin(POST => $keys, { name => 'Site de réservation' });
is($r->{status}, 201, 'POST api-keys: 201');
my $k1 = $r->{json} // {};
remember_secret($k1->{secret}, 'api_key');
is_deeply([sort keys %$k1], [qw(created_at id name secret)],
          '... {id, name, secret, created_at}');
like($k1->{id} // '', qr/^ak_[0-9a-f]{24}\z/, '... id: ak_ and 24 hex digits');
is($k1->{name}, 'Site de réservation', '... the name given');
like($k1->{secret} // '', qr/^cvc_sk_[A-Za-z0-9_-]{40,}\z/,
     '... secret: cvc_sk_ and 40+ characters');
ok(is_utc_time($k1->{created_at}), '... created_at in RFC 3339 UTC');
cmp_ok(abs((epoch_of($k1->{created_at} // '') // 0) - $t0), '<=', 10,
       '... now');

Time::HiRes::sleep(1.1);
$r = as_admin(POST => $keys, { name => 'Caisse' });
is($r->{status}, 201, 'a second key: 201');
my $k2 = $r->{json} // {};
remember_secret($k2->{secret}, 'api_key');
isnt($k2->{id}, $k1->{id}, '... another id');
isnt($k2->{secret}, $k1->{secret}, '... another secret');

for my $bad ([{}, 'no name'], [{ name => '' }, 'an empty name'],
             [{ name => 42 }, 'a name as a number'],
             [{ name => 'n' x 4096 }, 'a name of 4096 characters'])
{
    $r = as_admin(POST => $keys, $bad->[0]);
    error_ok($r, 422, 'validation_failed', "api key: $bad->[1]");
    fields_are($r, ['name'], "api key: $bad->[1]");
}
$r = as_admin(POST => $keys, { name => 'x', scopes => ['all'] });
fields_are($r, ['scopes'], 'api key: an unknown field');
$r = as_admin(POST => $keys, '{"name": "x"', 'Content-Type' => 'application/json');
error_ok($r, 400, 'invalid_json', 'api key: malformed JSON');
error_ok(call(POST => $keys, { name => 'anon' }), 401, 'unauthenticated',
         'api key: no session');

# ---- list: no secrets ---------------------------------------------------------------

$r = as_admin(GET => $keys);
is($r->{status}, 200, 'GET api-keys: 200');
my $data = $r->{json}{data} // [];
is_deeply([map { $_->{id} } @$data], [$k2->{id}, $k1->{id}],
          '... both keys, newest first');
is_deeply([sort keys %{ $data->[0] // {} }],
          [qw(created_at id last_used_at name)],
          '... {id, name, created_at, last_used_at}');
is($data->[1]{name}, $k1->{name}, '... names');
is($data->[1]{created_at}, $k1->{created_at}, '... created_at as at creation');
ok(exists $data->[1]{last_used_at} && !defined $data->[1]{last_used_at},
   '... last_used_at null before any use');
ok(index($r->{raw}, $k1->{secret} // 'none') < 0
   && index($r->{raw}, $k2->{secret} // 'none') < 0, '... no secret in it');
unlike($r->{raw}, qr/"secret"|cvc_sk_/, '... nor a secret member');

# ---- use ----------------------------------------------------------------------------

$r = api_as($k1->{secret}, GET => $bdays);
is($r->{status}, 200, 'an API key calls business-days: 200');
is_deeply($r->{json}, { date => '2026-06-26' }, '... {"date": "2026-06-26"}');

ok(wait_until(5, sub {
    my ($k) = grep { $_->{id} eq $k1->{id} }
              @{ as_admin(GET => $keys)->{json}{data} // [] };
    return $k && is_utc_time($k->{last_used_at});
}), 'last_used_at is set once the key was used');

sub refused {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok($r->{status} == 401 || $r->{status} == 403,
       "$name: 401 or 403 (got $r->{status})");
}
refused(api_as($k1->{secret}, GET => '/api/v1/merchant/me'),
        'an API key on /merchant/me');
refused(api_as($k1->{secret}, GET => $keys), 'an API key listing the keys');
refused(api_as($k1->{secret}, POST => $keys, { name => 'child' }),
        'an API key creating a key');
refused(api_as($k1->{secret}, PUT => $hook, { url => 'https://x.example/' }),
        'an API key setting the webhook');
refused(api_as($k1->{secret}, GET => '/api/v1/customer/me'),
        'an API key on /customer/me');
error_ok(call(GET => $bdays, undef, Authorization => "Basic $k1->{secret}"),
         401, 'unauthenticated', 'the key in another scheme');
error_ok(api_as('cvc_sk_' . ('A' x 64), GET => $bdays), 401,
         'unauthenticated', 'a made-up key');
error_ok(api_as(substr($k1->{secret}, 0, -1), GET => $bdays), 401,
         'unauthenticated', 'the key less its last character');

# ---- revoke ---------------------------------------------------------------------------

$r = as_admin(DELETE => "$keys/$k1->{id}");
is($r->{status}, 204, 'DELETE api-keys/{id}: 204');
is($r->{raw}, '', '... no body');
error_ok(api_as($k1->{secret}, GET => $bdays), 401, 'unauthenticated',
         'the revoked key at once: 401');
is(api_as($k2->{secret}, GET => $bdays)->{status}, 200, 'the other key works');
$r = as_admin(GET => $keys);
is_deeply([map { $_->{id} } @{ $r->{json}{data} // [] }], [$k2->{id}],
          'the list: the other key only');
error_ok(as_admin(DELETE => "$keys/$k1->{id}"), 404, 'not_found',
         'revoking it again');
error_ok(as_admin(DELETE => "$keys/ak_" . ('0' x 24)), 404, 'not_found',
         'revoking an unknown key');
error_ok(call(DELETE => "$keys/$k2->{id}"), 401, 'unauthenticated',
         'revoking without a session');

# one key revoked four times at once: one 204
$r = as_admin(POST => $keys, { name => 'raced' });
my $k3 = $r->{json} // {};
remember_secret($k3->{secret}, 'api_key');
my @st = parallel(4, sub { as_admin(DELETE => "$keys/$k3->{id}")->{status} });
is(join(' ', sort @st), '204 404 404 404',
   'one key revoked four times at once: one 204, three 404');
error_ok(api_as($k3->{secret} // 'none', GET => $bdays), 401,
         'unauthenticated', '... and it is revoked');

# ---- webhook ----------------------------------------------------------------------------

error_ok(as_admin(GET => $hook), 404, 'not_found', 'GET webhook before any');

$r = as_admin(PUT => $hook, { url => 'https://example.com/cvc' });
is($r->{status}, 200, 'PUT webhook: 200');
my $w = $r->{json} // {};
remember_secret($w->{secret}, 'webhook_secret');
is_deeply([sort keys %$w], [qw(secret url)], '... {url, secret}');
is($w->{url}, 'https://example.com/cvc', '... the URL');
like($w->{secret} // '', qr/^whsec_[0-9a-f]{64}\z/,
     '... secret: whsec_ and 64 hex digits');

$r = as_admin(GET => $hook);
is($r->{status}, 200, 'GET webhook: 200');
is_deeply($r->{json}, $w, '... the same {url, secret}');

$r = as_admin(PUT => $hook, { url => 'http://hooks.example.org/v2?x=1' });
is($r->{status}, 200, 'PUT another URL: 200');
is($r->{json}{url}, 'http://hooks.example.org/v2?x=1', '... the new URL');
is($r->{json}{secret}, $w->{secret}, '... the secret kept');
is_deeply(as_admin(GET => $hook)->{json},
          { url => 'http://hooks.example.org/v2?x=1', secret => $w->{secret} },
          'GET: the new URL, the same secret');

my $max = 'https://example.com/' . ('a' x (2048 - length 'https://example.com/'));
$r = as_admin(PUT => $hook, { url => $max });
is($r->{status}, 200, 'a URL of 2048 characters: 200');

for my $bad (['ftp://example.com/hook', 'ftp'],
             ['javascript:alert(1)', 'javascript:'],
             ['example.com/hook', 'no scheme'], ['', 'empty'],
             ['https://', 'no host'], [42, 'a number'],
             [$max . 'a', '2049 characters'])
{
    $r = as_admin(PUT => $hook, { url => $bad->[0] });
    error_ok($r, 422, 'validation_failed', "webhook URL: $bad->[1]");
    fields_are($r, ['url'], "webhook URL: $bad->[1]");
}
$r = as_admin(PUT => $hook, {});
fields_are($r, ['url'], 'webhook: no URL');
$r = as_admin(PUT => $hook, { url => 'https://example.com/', events => [] });
fields_are($r, ['events'], 'webhook: an unknown field');
is(as_admin(GET => $hook)->{json}{url}, $max, 'refused PUTs changed nothing');
error_ok(call(PUT => $hook, { url => 'https://example.com/' }), 401,
         'unauthenticated', 'webhook without a session');

$r = as_admin(DELETE => $hook);
is($r->{status}, 204, 'DELETE webhook: 204');
error_ok(as_admin(GET => $hook), 404, 'not_found', 'GET after DELETE: 404');
$r = as_admin(PUT => $hook, { url => 'https://example.com/again' });
is($r->{status}, 200, 'a new webhook: 200');
remember_secret(eval { $r->{json}{secret} }, 'webhook_secret');
like($r->{json}{secret} // '', qr/^whsec_[0-9a-f]{64}\z/, '... a secret');
isnt($r->{json}{secret}, $w->{secret}, '... a new one');

# ---- business-days: credentials ------------------------------------------------------------

$r = api_as($admin->{token}, GET => $bdays);
is($r->{status}, 200, 'a merchant session calls business-days');
is_deeply($r->{json}, { date => '2026-06-26' }, '... 2026-06-24 + 2');
my $ben = new_beneficiary();
my $cust = customer_login($ben->{id}, $ben->{password});
is(api_as($cust->{token}, GET => $bdays)->{status}, 200,
   'a customer session calls business-days');
error_ok(call(GET => $bdays), 401, 'unauthenticated',
         'business-days without a credential');
error_ok(api_as($ENV{CVC_OPS_TOKEN}, GET => $bdays), 401, 'unauthenticated',
         'the ops token is no API credential');

# ---- business-days: bad parameters -----------------------------------------------------------

for my $q (['from=2026-06-24', 'no add'], ['add=2', 'no from'], ['', 'nothing'],
           ['from=2026-02-30&add=1', '30 February'],
           ['from=2026-6-24&add=1', 'a short month'],
           ['from=24/06/2026&add=1', 'a French date'],
           ['from=2026-06-24T00:00:00Z&add=1', 'a time stamp'],
           ['from=2026-06-24&add=-1', 'add -1'],
           ['from=2026-06-24&add=61', 'add 61'],
           ['from=2026-06-24&add=abc', 'add abc'],
           ['from=2026-06-24&add=1.5', 'add 1.5'],
           ['from=2026-06-24&add=', 'an empty add'])
{
    $r = api_as($admin->{token}, GET => "/api/v1/business-days?$q->[0]");
    error_ok($r, 400, 'invalid_parameter', "business-days: $q->[1]");
}

# ---- business-days: the calendar -------------------------------------------------------------

sub bd {
    my ($from, $add) = @_;
    my $r = api_as($admin->{token},
                   GET => "/api/v1/business-days?from=$from&add=$add");
    return $r->{status} == 200 ? $r->{json}{date} // "no date: $r->{raw}"
                               : "$r->{status} $r->{raw}";
}

for my $case (
    ['2026-06-24', 2, '2026-06-26', 'Wednesday + 2'],
    ['2026-06-24', 0, '2026-06-24', '+ 0: the day itself'],
    ['2026-06-26', 1, '2026-06-29', 'Friday + 1: over the weekend'],
    ['2026-06-27', 1, '2026-06-29', 'Saturday + 1: Monday'],
    ['2026-06-28', 5, '2026-07-03', 'Sunday + 5'],
    ['2026-04-02', 2, '2026-04-07', 'over Good Friday (worked) and '
                                    . 'Easter Monday 2026-04-06'],
    ['2026-04-30', 1, '2026-05-04', 'over 1 May (a Friday)'],
    ['2026-05-07', 1, '2026-05-11', 'over 8 May (a Friday)'],
    ['2026-04-30', 5, '2026-05-11', 'over 1 and 8 May'],
    ['2026-05-13', 1, '2026-05-15', 'over Ascension Thursday 2026-05-14'],
    ['2026-05-22', 1, '2026-05-26', 'over Whit Monday 2026-05-25'],
    ['2026-07-13', 1, '2026-07-15', 'over 14 July (a Tuesday)'],
    ['2025-08-14', 1, '2025-08-18', 'over 15 August 2025 (a Friday)'],
    ['2026-11-10', 1, '2026-11-12', 'over 11 November (a Wednesday)'],
    ['2026-12-24', 1, '2026-12-28', 'over Christmas (a Friday)'],
    ['2026-12-31', 1, '2027-01-04', 'over 1 January 2027 (a Friday)'],
    ['2027-03-26', 1, '2027-03-30', 'over Easter Monday 2027-03-29'],
    ['2027-05-05', 1, '2027-05-07', 'over Ascension 2027-05-06'],
    ['2026-06-24', 60, '2026-09-17', '+ 60, over 14 July and 15 August'],
    ['2028-02-28', 1, '2028-02-29', 'a leap day'],
)
{
    my ($from, $add, $want, $name) = @$case;
    is(bd($from, $add), $want, "$from + $add = $want: $name");
}

# every day of 2026 against a reference calendar
sub easter {
    my ($y) = @_;
    my $g = $y % 19;
    my $k = int($y / 100);
    my $c = $y % 100;
    my $h = (19 * $g + $k - int($k / 4) - int(($k - int(($k + 8) / 25) + 1) / 3)
             + 15) % 30;
    my $l = (32 + 2 * ($k % 4) + 2 * int($c / 4) - $h - ($c % 4)) % 7;
    my $m = int(($g + 11 * $h + 22 * $l) / 451);
    my $month = int(($h + $l - 7 * $m + 114) / 31);
    my $day = (($h + $l - 7 * $m + 114) % 31) + 1;
    return Time::Local::timegm(0, 0, 12, $day, $month - 1, $y);
}
my %holiday;
for my $y (2025 .. 2027) {
    $holiday{"$y-$_"} = 1 for qw(01-01 05-01 05-08 07-14 08-15 11-01 11-11 12-25);
    my $e = easter($y);
    $holiday{ utc_date($e + $_ * 86400) } = 1 for 1, 39, 50;
}
ok($holiday{'2026-04-06'} && $holiday{'2026-05-14'} && $holiday{'2026-05-25'}
   && $holiday{'2027-03-29'}, 'the reference calendar knows Easter');
sub business {
    my ($t) = @_;
    my $wday = (gmtime $t)[6];
    return $wday != 0 && $wday != 6 && !$holiday{ utc_date($t) };
}
sub reference {
    my ($t, $n) = @_;
    while ($n > 0) {
        $t += 86400;
        $n-- if business($t);
    }
    return utc_date($t);
}

my @wrong;
my $start = Time::Local::timegm(0, 0, 12, 1, 0, 2026);
for my $i (0 .. 364) {
    my $t = $start + $i * 86400;
    my $add = 1 + ($i * 7) % 60;
    my ($want, $got) = (reference($t, $add), bd(utc_date($t), $add));
    push @wrong, utc_date($t) . " + $add: $got, not $want" if $got ne $want;
}
ok(!@wrong, 'each day of 2026 plus 1..60 business days: as the calendar')
    or diag join "\n", @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)];

done_testing;
