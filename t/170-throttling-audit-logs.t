# Rate limiting of logins and resets per client address, the audit trail
# of every security event (who, from where, which request), and the
# account in the access log.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.170');

my $n = 0;
sub rid { my ($tag) = @_; return "t170-$tag-" . unique_digits(8) . '-' . ++$n }

# ---- rate limiting -------------------------------------------------------------

my @paths = ('/api/v1/merchant/sessions', '/api/v1/customer/sessions',
             '/api/v1/merchant/password-resets');
my @res = parallel(10, sub {
    my $i = shift;
    my (@seen, $sample);
    for my $k (0 .. 39) {
        my $path = $paths[($i + $k) % 3];
        my $r = api(POST => $path, { login => 'x', password => 'y' },
                    'X-Forwarded-For' => '192.0.2.77');
        push @seen, { who => 77, path => $path, status => $r->{status} };
        if ($r->{status} == 429 && !$sample) {
            $sample = { status => $r->{status}, json => $r->{json},
                        rid => $r->{headers}{'x-request-id'},
                        type => $r->{headers}{'content-type'},
                        cache => $r->{headers}{'cache-control'},
                        retry => $r->{headers}{'retry-after'} };
        }
        if ($k % 5 == 0) {
            $r = api(POST => $path, { login => 'x', password => 'y' },
                     'X-Forwarded-For' => '192.0.2.78');
            push @seen, { who => 78, path => $path, status => $r->{status} };
        }
        if ($k % 10 == 0) {
            $r = api(GET => '/api/v1/health', undef,
                     'X-Forwarded-For' => '192.0.2.77');
            push @seen, { who => 'health', status => $r->{status} };
        }
    }
    return { seen => \@seen, sample => $sample };
});

my @seen = map { @{ $_->{seen} } } @res;
my @from77 = grep { $_->{who} eq '77' } @seen;
my @limited = grep { $_->{status} == 429 } @from77;
cmp_ok(scalar @limited, '>', 0,
       scalar(@limited) . ' of ' . scalar(@from77)
       . ' fast attempts from one address were answered 429');
is(scalar(grep { $_->{status} != 429 && $_->{status} != 422 } @from77), 0,
   '... the others 422 (malformed logins)');
for my $path (@paths) {
    ok(scalar(grep { $_->{path} eq $path } @limited), "... 429 on $path");
}
my @from78 = grep { $_->{who} eq '78' } @seen;
is(scalar(grep { $_->{status} == 429 } @from78), 0,
   'meanwhile, another address was never limited ('
   . scalar(@from78) . ' requests)');
is(scalar(grep { $_->{status} != 422 } @from78), 0, '... all answered 422');
my @health = grep { $_->{who} eq 'health' } @seen;
is(scalar(grep { $_->{status} != 200 } @health), 0,
   'the limited address still reaches /api/v1/health');

my ($sample) = grep { defined } map { $_->{sample} } @res;
$sample //= {};
is(eval { $sample->{json}{error}{code} }, 'rate_limited',
   '429: error.code rate_limited');
like(eval { $sample->{json}{error}{message} } // '', qr/\S/, '429: a message');
is(eval { $sample->{json}{error}{request_id} }, $sample->{rid},
   '429: the request id, as in X-Request-Id');
like($sample->{type} // '', qr{^application/json}, '429: JSON');
is($sample->{cache}, 'no-store', '429: no-store');
like($sample->{retry} // '', qr/^\d+\z/, '429: Retry-After');

# ---- audit: ops --------------------------------------------------------------------

sub one_audit {
    my ($event, $rid, $account, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $rows = audit_rows(event => $event, request_id => $rid);
    is(scalar @$rows, 1, "$name: one $event row for the request")
        or return {};
    my $row = $rows->[0];
    is($row->{account}, $account, "$name: account " . ($account // 'null'))
        if @_ > 2;
    is($row->{client_ip}, '192.0.2.170', "$name: the client address");
    ok($row->{at}, "$name: a time");
    return $row;
}

my $rid = rid('conv');
my $cpw = new_password();
my $r = ops(POST => '/ops/v1/conventions',
            { name => 'Audit', email => unique_email('t170'), password => $cpw },
            xff(), 'X-Request-Id' => $rid);
is($r->{headers}{'x-request-id'}, $rid, 'the request id sent is echoed');
my $conv = { id => $r->{json}{id} // 'none', password => $cpw };
my $row = one_audit('convention_created', $rid, 'ops', 'convention created');
like(JSON::PP->new->canonical->encode($row->{details} // {}),
     qr/\Q$conv->{id}\E/, '... its details name the convention');

$rid = rid('pos');
my $ppw = new_password();
$r = ops(POST => '/ops/v1/points-of-sale',
         { convention => $conv->{id}, name => 'Audit pos', category => 'restaurants',
           email => unique_email('t170'), password => $ppw },
         xff(), 'X-Request-Id' => $rid);
my $pos = { id => $r->{json}{id} // 'none', password => $ppw };
$row = one_audit('point_of_sale_created', $rid, 'ops', 'point of sale created');
like(JSON::PP->new->encode($row->{details} // {}), qr/\Q$pos->{id}\E/,
     '... its details name the point of sale');

$rid = rid('benef');
my $bpw = new_password();
$r = ops(POST => '/ops/v1/beneficiaries',
         { email => unique_email('t170'), password => $bpw,
           payment_code => remember_secret(unique_digits(6), 'payment_code') },
         xff(), 'X-Request-Id' => $rid);
my $ben = { id => $r->{json}{id} // 'none', password => $bpw };
$row = one_audit('beneficiary_created', $rid, 'ops', 'beneficiary created');
like(JSON::PP->new->encode($row->{details} // {}), qr/\Q$ben->{id}\E/,
     '... its details name the beneficiary');

# ---- audit: logins ---------------------------------------------------------------------

$rid = rid('login');
$r = merchant_login_r($conv->{id}, $conv->{password}, 'X-Request-Id' => $rid);
is($r->{status}, 201, 'admin login');
my $admin = $r->{json} // {};
one_audit('login_succeeded', $rid, "admin:$conv->{id}", 'admin login');

$rid = rid('wrong');
merchant_login_r($conv->{id}, 'Wrong-' . unique_digits(8) . '-pass',
                 'X-Request-Id' => $rid);
one_audit('login_failed', $rid, "admin:$conv->{id}", 'a wrong password');
merchant_login_r($conv->{id}, $conv->{password});   # clear the count

$rid = rid('ghost');
merchant_login_r(unique_digits(6), 'Wrong-' . unique_digits(8) . '-pass',
                 'X-Request-Id' => $rid);
one_audit('login_failed', $rid, undef, 'an unknown login');

# no X-Request-Id sent: the generated one
$r = merchant_login_r($pos->{id}, $pos->{password});
my $gen = $r->{headers}{'x-request-id'} // 'none';
like($gen, qr/^[A-Za-z0-9._-]{1,128}\z/, 'a generated request id');
one_audit('login_succeeded', $gen, "point_of_sale:$pos->{id}",
          'point of sale login, generated request id');

$rid = rid('cust');
$r = customer_login_r($ben->{id}, $ben->{password}, 'X-Request-Id' => $rid);
is($r->{status}, 201, 'customer login');
my $cust = $r->{json} // {};
one_audit('login_succeeded', $rid, "customer:$ben->{id}", 'customer login');

# the lock
my $p2pw = new_password();
my $p2mail = unique_email('t170');
$r = ops(POST => '/ops/v1/points-of-sale',
         { convention => $conv->{id}, name => 'To lock', category => 'restaurants',
           email => $p2mail, password => $p2pw }, xff());
my $p2 = $r->{json}{id} // 'none';
merchant_login_r($p2, 'Wrong-' . unique_digits(8) . '-pass') for 1 .. 2;
$rid = rid('lock');
$r = merchant_login_r($p2, 'Wrong-' . unique_digits(8) . '-pass',
                      'X-Request-Id' => $rid);
is($r->{status}, 423, 'the 3rd wrong password locks');
one_audit('account_locked', $rid, "point_of_sale:$p2", 'the lock');

# ---- audit: reset, logout, keys ------------------------------------------------------------

$rid = rid('reset');
$r = call(POST => '/api/v1/merchant/password-resets', { login => $p2 },
          'X-Request-Id' => $rid);
is($r->{status}, 202, 'a reset asked');
one_audit('password_reset_requested', $rid, "point_of_sale:$p2",
          'reset requested');
my $mails = outbox(kind => 'email', template => 'password_reset',
                   recipient => $p2mail);
my $link = @$mails ? $mails->[-1]{payload}{link} : undef;
my ($token) = ($link // '') =~ /token=([^&#\s]+)/;
remember_secret($token, 'reset_token');
$rid = rid('confirm');
$r = call(POST => '/api/v1/merchant/password-resets/confirm',
          { token => $token // 'none', password => new_password() },
          'X-Request-Id' => $rid);
is($r->{status}, 204, 'the reset confirmed');
one_audit('password_reset_completed', $rid, "point_of_sale:$p2",
          'reset completed');

$rid = rid('key');
$r = api_as($admin->{token} // 'none', POST => "/api/v1/points-of-sale/$pos->{id}/api-keys",
            { name => 'audited' }, 'X-Request-Id' => $rid);
is($r->{status}, 201, 'an API key created');
my $key = $r->{json} // {};
remember_secret($key->{secret}, 'api_key');
$row = one_audit('api_key_created', $rid, "admin:$conv->{id}", 'key created');
my $details = JSON::PP->new->encode($row->{details} // {});
my ($kid, $ksecret) = ($key->{id} // 'none', $key->{secret} // 'none');
like($details, qr/\Q$kid\E/, '... its details name the key');
unlike($details, qr/\Q$ksecret\E/, '... not its secret');

$rid = rid('revoke');
$r = api_as($admin->{token} // 'none',
            DELETE => "/api/v1/points-of-sale/$pos->{id}/api-keys/"
                      . ($key->{id} // 'none'), undef, 'X-Request-Id' => $rid);
is($r->{status}, 204, 'the key revoked');
one_audit('api_key_revoked', $rid, "admin:$conv->{id}", 'key revoked');

$rid = rid('logout');
$r = api_as($cust->{token} // 'none', DELETE => '/api/v1/customer/sessions/current',
            undef, 'X-Request-Id' => $rid);
is($r->{status}, 204, 'customer logout');
one_audit('session_ended', $rid, "customer:$ben->{id}", 'customer logout');

$rid = rid('mlogout');
$r = api_as($admin->{token} // 'none', DELETE => '/api/v1/merchant/sessions/current',
            undef, 'X-Request-Id' => $rid);
is($r->{status}, 204, 'merchant logout');
one_audit('session_ended', $rid, "admin:$conv->{id}", 'merchant logout');
$admin = merchant_login($conv->{id}, $conv->{password});

# ---- the access log ------------------------------------------------------------------------

sub log_line {
    my ($rid) = @_;
    my $line;
    wait_until(3, sub {
        ($line) = grep { /\bid=\Q$rid\E\b/ } split /\n/, access_log();
        return defined $line;
    });
    return $line // '';
}

my $me_rid = rid('me');
api_as($admin->{token} // 'none', GET => '/api/v1/merchant/me', undef,
       'X-Request-Id' => $me_rid);
my $line = log_line($me_rid);
like($line, qr/\baccount=admin:\Q$conv->{id}\E(\s|$)/,
     'access log: account=admin:<id>') or diag "line: $line";
like($line, qr/^192\.0\.2\.170 /, '... from the client address');

my $ps = merchant_login($pos->{id}, $pos->{password});
my $pos_rid = rid('posme');
api_as($ps->{token}, GET => '/api/v1/merchant/me', undef,
       'X-Request-Id' => $pos_rid);
like(log_line($pos_rid), qr/\baccount=point_of_sale:\Q$pos->{id}\E(\s|$)/,
     'access log: account=point_of_sale:<id>');

my $cs = customer_login($ben->{id}, $ben->{password});
my $c_rid = rid('custme');
api_as($cs->{token}, GET => '/api/v1/customer/me', undef,
       'X-Request-Id' => $c_rid);
like(log_line($c_rid), qr/\baccount=customer:\Q$ben->{id}\E(\s|$)/,
     'access log: account=customer:<id>');

my $anon_rid = rid('anon');
call(GET => '/api/v1/merchant/me', undef, 'X-Request-Id' => $anon_rid);
$line = log_line($anon_rid);
like($line, qr/ 401 /, 'access log: the 401');
unlike($line, qr/\baccount=\S*:/, '... names no account');

my $q_rid = rid('query');
api_as($ps->{token}, GET => '/api/v1/business-days?from=2026-06-24&add=2',
       undef, 'X-Request-Id' => $q_rid);
$line = log_line($q_rid);
like($line, qr{GET /api/v1/business-days}, 'access log: the path');
unlike($line, qr/from=|add=/, '... never the query string');

done_testing;
