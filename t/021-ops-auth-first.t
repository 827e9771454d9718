# The ops location tells nothing without its token: any path under it, a
# route or not, any method, is answered 401 until the bearer token is
# right (it used to answer 405 with the route's Allow, or 404, first).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

my @cases = ([GET => '/ops/v1/conventions'],          # a route, wrong method
             [DELETE => '/ops/v1/beneficiaries'],
             [GET => '/ops/v1/no-such-thing'],        # no route
             [POST => '/ops/v1/conventions'],         # a route
             [PUT => '/ops/v1/clock']);

for my $c (@cases) {
    my ($method, $path) = @$c;
    for my $auth ([], [Authorization => 'Bearer wrong-token'],
                  [Authorization => 'Basic Zm9vOmJhcg=='])
    {
        my $what = "$method $path " . (@$auth ? "($auth->[1])" : '(no token)');
        my $r = api($method, $path, $method =~ /^(POST|PUT)\z/ ? {} : undef,
                    @$auth);
        error_ok($r, 401, 'unauthenticated', $what);
        ok(!exists $r->{headers}{allow}, "$what: no Allow header");
    }
}

# with the token, the routing answers as before
my $r = ops(GET => '/ops/v1/conventions');
error_ok($r, 405, 'method_not_allowed', 'with the token, a wrong method: 405');
is($r->{headers}{allow}, 'POST', '... Allow: POST');
error_ok(ops(GET => '/ops/v1/no-such-thing'), 404, 'not_found',
         'with the token, no route: 404');

done_testing();
