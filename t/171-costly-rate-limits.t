# Rate limits per client address on the routes that run scrypt or an
# export in the thread pool: paying, changing the payment code, exporting
# requests or a payout. Fast tries from one address get the contract's 429
# (rate_limited, Retry-After) before the module does any work; another
# address is not held back. (Per account: t/116 and t/290.)
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

my @paths = ([POST => '/api/v1/customer/payment-requests/PR123/pay'],
             [PUT => '/api/v1/customer/payment-code'],
             [GET => '/api/v1/payment-requests/export?format=csv'],
             [GET => '/api/v1/payouts/123/export?format=csv']);

my @res = parallel(10, sub {
    my $i = shift;
    my (@seen, $sample);
    for my $k (0 .. 39) {
        my ($method, $path) = @{ $paths[($i + $k) % @paths] };
        my $r = api($method, $path, $method eq 'GET' ? undef : {},
                    'X-Forwarded-For' => '192.0.2.171');
        push @seen, { who => 171, path => $path, status => $r->{status} };
        $sample //= { json => $r->{json}, retry => $r->{headers}{'retry-after'},
                      rid => $r->{headers}{'x-request-id'},
                      type => $r->{headers}{'content-type'} }
            if $r->{status} == 429;
        if ($k % 8 == 0) {
            $r = api($method, $path, $method eq 'GET' ? undef : {},
                     'X-Forwarded-For' => '192.0.2.172');
            push @seen, { who => 172, path => $path, status => $r->{status} };
        }
    }
    return { seen => \@seen, sample => $sample };
});

my @seen = map { @{ $_->{seen} } } @res;
my @fast = grep { $_->{who} == 171 } @seen;
my @limited = grep { $_->{status} == 429 } @fast;
cmp_ok(scalar @limited, '>', 0, scalar(@limited) . ' of ' . scalar(@fast)
       . ' fast tries from one address were answered 429');
is(scalar(grep { $_->{status} != 429 && $_->{status} != 401 } @fast), 0,
   '... the others 401 (no credential)');
for my $p (@paths) {
    ok(scalar(grep { $_->{path} eq $p->[1] } @limited), "... 429 on $p->[1]");
}
is(scalar(grep { $_->{who} == 172 && $_->{status} == 429 } @seen), 0,
   'another address, at its own pace, is never limited');

my ($s) = map { $_->{sample} // () } @res;
is($s->{json}{error}{code}, 'rate_limited', 'the 429: rate_limited');
is($s->{json}{error}{request_id}, $s->{rid}, '... its request id');
like($s->{type} // '', qr{^application/json}, '... JSON');
ok(($s->{retry} // 0) >= 1, '... Retry-After');

done_testing();
