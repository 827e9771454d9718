# GET /api/v1/health: a real round trip to PostgreSQL and Redis, and the
# headers every JSON answer carries.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

my $r = api(GET => '/api/v1/health');
is($r->{status}, 200, 'health answers 200');
is_deeply($r->{json}, { status => 'ok', postgres => 'ok', redis => 'ok',
                        version => $r->{json}{version} }, 'both backends ok');
like($r->{json}{version}, qr/^\d+\.\d+\.\d+$/, 'with the version');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON');
is($r->{headers}{'cache-control'}, 'no-store', 'Cache-Control: no-store');
is($r->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff');
like($r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/,
     'a generated X-Request-Id');

my $other = api(GET => '/api/v1/health');
isnt($other->{headers}{'x-request-id'}, $r->{headers}{'x-request-id'},
     'a new id for each request');

$r = api(GET => '/api/v1/health', undef, 'X-Request-Id' => 'abc.DEF_123-x');
is($r->{headers}{'x-request-id'}, 'abc.DEF_123-x', "the caller's sane id");

for my $bad ('has space', 'x' x 129, 'semi;colon', 'a/b', '%41') {
    $r = api(GET => '/api/v1/health', undef, 'X-Request-Id' => $bad);
    like($r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/,
         "an insane id is replaced: '" . substr($bad, 0, 12) . "'");
}

$r = api(GET => '/api/v1/health', undef, 'X-Request-Id' => 'y' x 128);
is($r->{headers}{'x-request-id'}, 'y' x 128, '128 characters are kept');

$r = api(HEAD => '/api/v1/health');
is($r->{status}, 200, 'HEAD works');
is($r->{raw}, '', 'HEAD has no body');

done_testing;
