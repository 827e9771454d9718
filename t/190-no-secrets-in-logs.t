# No secret ever reaches nginx's logs: passwords (right or wrong), session
# and CSRF tokens, reset tokens, API key secrets, webhook secrets, payment
# codes and the ops token. The other test files remember theirs in
# $CVC_TEST_DIR/secrets.txt (remember_secret); prove runs this file last.
# This file makes its own too, so it means something when run alone.
# Passwords and API key secrets are not stored in the clear either, in
# PostgreSQL or Redis.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.190');

# ---- make secrets travel through every path ------------------------------------

my $conv = new_convention();
my $pos = new_pos($conv);
my $ben = new_beneficiary();

my $s = merchant_login($conv->{id}, $conv->{password});
merchant_login_r($pos->{id}, 'Leak-wrong-' . unique_digits(10));
merchant_login_r(unique_digits(6), 'Leak-ghost-' . unique_digits(10));
api_as(remember_secret('Leak-token-' . unique_digits(20), 'token'),
       GET => '/api/v1/merchant/me');
call(GET => '/api/v1/merchant/me', undef,
     Cookie => 'cvc_session=' . remember_secret('Leak-cookie-'
                                                . unique_digits(20), 'token'));
call(GET => '/api/v1/merchant/me', undef,
     Cookie => "cvc_session=$s->{_cookie}");
call(DELETE => '/api/v1/merchant/sessions/current', undef,
     Cookie => "cvc_session=$s->{_cookie}",
     'X-CSRF-Token' => remember_secret('Leak-csrf-' . unique_digits(20),
                                       'token'));

# secrets inside bodies the server refuses
my $half = remember_secret('Leak-json-' . unique_digits(12), 'password');
call(POST => '/api/v1/merchant/sessions',
     qq({"login": "$conv->{id}", "password": "$half"),
     'Content-Type' => 'application/json');
for my $tail ('"', '', '\\q"}', "\t\"}") {
    # unterminated, cut short, a bad escape, a raw control character:
    # JSON parsers like to quote the text "near" the fault
    my $leak = remember_secret('Leak-near-' . unique_digits(12), 'password');
    call(POST => '/api/v1/merchant/sessions',
         qq({"login": "$conv->{id}", "password": "$leak$tail),
         'Content-Type' => 'application/json');
}
my $long = remember_secret('Leak-long-' . unique_digits(12) . ('z' x 130),
                           'password');
merchant_login_r($conv->{id}, $long);
call(POST => '/api/v1/merchant/sessions',
     { login => $conv->{id}, password => $conv->{password}, extra => 1 });
call(POST => '/api/v1/merchant/sessions',
     qq({"login": "$conv->{id}", "password": "$conv->{password}"}),
     'Content-Type' => 'text/plain');

# a reset, start to end
call(POST => '/api/v1/merchant/password-resets', { login => $pos->{id} });
my $mails = outbox(kind => 'email', template => 'password_reset',
                   recipient => $pos->{email});
my ($token) = (@$mails ? $mails->[-1]{payload}{link} // '' : '')
              =~ /token=([^&#\s]+)/;
remember_secret($token, 'reset_token');
my $newpw = new_password();
my $r = call(POST => '/api/v1/merchant/password-resets/confirm',
             { token => $token // 'none', password => $newpw });
is($r->{status}, 204, 'a reset completed');
call(POST => '/api/v1/merchant/password-resets/confirm',
     { token => $token // 'none', password => new_password() });

# keys and webhooks
my $admin = merchant_login($conv->{id}, $conv->{password});
$r = api_as($admin->{token}, POST => "/api/v1/points-of-sale/$pos->{id}/api-keys",
            { name => 'leak check' });
is($r->{status}, 201, 'an API key created');
my $key = remember_secret(eval { $r->{json}{secret} }, 'api_key');
api_as($key // 'none', GET => '/api/v1/business-days?from=2026-06-24&add=3');
api_as($key // 'none', GET => '/api/v1/merchant/me');
$r = api_as($admin->{token}, PUT => "/api/v1/points-of-sale/$pos->{id}/webhook",
            { url => 'https://example.com/leak' });
remember_secret(eval { $r->{json}{secret} }, 'webhook_secret');

# a customer and its payment code
my $c = customer_login($ben->{email}, $ben->{password});
my $code = remember_secret(unique_digits(6), 'payment_code');
$r = api_as($c->{token}, PUT => '/api/v1/customer/payment-code',
            { password => $ben->{password}, payment_code => $code });
is($r->{status}, 204, 'a payment code set');
api_as($c->{token}, PUT => '/api/v1/customer/payment-code',
       { password => remember_secret('Leak-cwrong-' . unique_digits(10),
                                     'password'),
         payment_code => remember_secret(unique_digits(6), 'payment_code') });
api_as($c->{token}, PUT => '/api/v1/customer/payment-code',
       { password => $ben->{password},
         payment_code => remember_secret('9' . unique_digits(6),
                                         'payment_code') });

remember_secret($ENV{CVC_OPS_TOKEN}, 'ops_token');
ops(POST => '/ops/v1/conventions', { name => 'x' }, xff(),
    Authorization => 'Bearer ' . remember_secret('Leak-ops-'
                                                 . unique_digits(20), 'token'));

# ---- look for them -----------------------------------------------------------------

my %secret;                         # secret -> kind
for my $pair (secrets()) {
    my ($kind, $value) = @$pair;
    next if length $value < 6;
    $secret{$value} //= $kind;
}
my %kinds;
$kinds{$_}++ for values %secret;
cmp_ok(scalar(keys %secret), '>=', 20,
       scalar(keys %secret) . ' secrets to look for ('
       . join(', ', map { "$kinds{$_} $_" } sort keys %kinds) . ')');
ok($kinds{$_}, "some of kind $_")
    for qw(password token reset_token api_key webhook_secret payment_code);

# finds where the secrets are in $text: digits-only secrets (payment
# codes) as whole numbers, others anywhere
sub leaks {
    my ($text, $where, @kinds) = @_;
    my %want = map { $_ => 1 } @kinds;
    my @found;
    for my $value (sort keys %secret) {
        next if @kinds && !$want{ $secret{$value} };
        my $hit = $value =~ /^[0-9]+\z/
            ? $text =~ /(?<![0-9A-Za-z])\Q$value\E(?![0-9A-Za-z])/
            : index($text, $value) >= 0;
        push @found, "$secret{$value} " . substr($value, 0, 12)
                     . "... in $where" if $hit;
    }
    return @found;
}

sub no_leaks {
    my ($name, @found) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(!@found, $name) or diag join "\n", @found[0 .. ($#found < 19 ? $#found : 19)];
}

my $access = access_log();
my $errors = error_log();
cmp_ok(length $access, '>', 0, 'the access log has lines');
cmp_ok(length $errors, '>', 0, 'the error log has lines');
like($access, qr/account=admin:\Q$conv->{id}\E/,
     'the access log is the one this stack writes');

no_leaks('no secret in the access log', leaks($access, 'access.log'));
no_leaks('no secret in the error log', leaks($errors, 'error.log'));

# ---- PostgreSQL and Redis: no password or API key secret in the clear ---------------

my $tables = psql("select string_agg(format('%I.%I', table_schema, "
                  . "table_name), ' ') from information_schema.tables "
                  . "where table_schema = 'cvc' and table_type = 'BASE TABLE'");
my @tables = split ' ', $tables;
cmp_ok(scalar @tables, '>', 0, 'PostgreSQL tables: ' . join(' ', @tables));
my $dump = join "\n", map { psql("select t::text from $_ t") } @tables;
no_leaks('no password or API key secret in PostgreSQL',
         leaks($dump, 'PostgreSQL', qw(password api_key ops_token)));
like($dump, qr/\Q$pos->{id}\E/, '... whose dump has the data');

my $lua = <<'LUA';
local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
    local t = redis.call('TYPE', k).ok
    out[#out + 1] = k
    local vals = {}
    if t == 'string' then vals = {redis.call('GET', k)}
    elseif t == 'hash' then vals = redis.call('HGETALL', k)
    elseif t == 'set' then vals = redis.call('SMEMBERS', k)
    elseif t == 'zset' then vals = redis.call('ZRANGE', k, 0, -1)
    elseif t == 'list' then vals = redis.call('LRANGE', k, 0, -1)
    end
    for _, v in ipairs(vals) do out[#out + 1] = v end
end
return out
LUA
my $redis = redis_cli('eval', $lua, '0');
cmp_ok(length $redis, '>', 0, 'Redis has keys');
no_leaks('no password, API key secret, reset token or payment code in Redis',
         leaks($redis, 'Redis',
               qw(password api_key ops_token reset_token payment_code)));

done_testing;
