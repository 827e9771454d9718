# The router and the request body: every error in the contract's format.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

sub error_is {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name: $status");
    is($r->{json}{error}{code}, $code, "$name: $code");
    like($r->{json}{error}{message}, qr/\S/, "$name: a message");
    is($r->{json}{error}{request_id}, $r->{headers}{'x-request-id'},
       "$name: the request id, as in X-Request-Id");
    like($r->{headers}{'content-type'}, qr{^application/json}, "$name: JSON");
    is($r->{headers}{'cache-control'}, 'no-store', "$name: no-store");
}

error_is(api(GET => '/api/v1/nothing-here'), 404, 'not_found', 'unknown path');
error_is(api(GET => '/api/v1/health/'), 404, 'not_found', 'trailing slash');
error_is(api(GET => '/api/v2/health'), 404, 'not_found', 'other version');
error_is(api(GET => '/api/v1/conventions'), 404, 'not_found',
         'an ops route is not on the API location');
error_is(ops(POST => '/api/v1/ops/v1/conventions', {}), 404, 'not_found',
         'nor under it');

my $r = api(DELETE => '/api/v1/health');
error_is($r, 405, 'method_not_allowed', 'wrong method');
is($r->{headers}{allow}, 'GET, HEAD', 'Allow lists the methods');

$r = ops(GET => '/ops/v1/conventions');
error_is($r, 405, 'method_not_allowed', 'GET on a POST route');
is($r->{headers}{allow}, 'POST', 'Allow: POST');

# the ops API wants its token before anything else
error_is(api(POST => '/ops/v1/conventions', { name => 'x' }), 401,
         'unauthenticated', 'ops without a token');
error_is(api(POST => '/ops/v1/conventions', { name => 'x' },
             Authorization => 'Bearer ' . ('0' x 64)), 401,
         'unauthenticated', 'ops with a wrong token');
error_is(api(POST => '/ops/v1/conventions', { name => 'x' },
             Authorization => "Basic $ENV{CVC_OPS_TOKEN}"), 401,
         'unauthenticated', 'ops token in the wrong scheme');

# bodies
my %json = ('Content-Type' => 'application/json');

error_is(ops(POST => '/ops/v1/conventions', '{"name": "x",', %json), 400,
         'invalid_json', 'malformed JSON');
error_is(ops(POST => '/ops/v1/conventions', "{\"name\": \"\xff\"}", %json),
         400, 'invalid_json', 'not UTF-8');
error_is(ops(POST => '/ops/v1/conventions', '{"name": "a", "name": "b"}',
             %json), 400, 'invalid_json', 'a duplicate member');
error_is(ops(POST => '/ops/v1/conventions', '[1, 2]', %json), 422,
         'validation_failed', 'not an object');

error_is(ops(POST => '/ops/v1/conventions', '{}',
             'Content-Type' => 'text/plain'), 415, 'unsupported_media_type',
         'text/plain');
error_is(ops(POST => '/ops/v1/conventions', 'name=x',
             'Content-Type' => 'application/x-www-form-urlencoded'), 415,
         'unsupported_media_type', 'a form');
error_is(ops(POST => '/ops/v1/conventions', '{}'), 415,
         'unsupported_media_type', 'no content type');
error_is(ops(POST => '/ops/v1/conventions', '{}',
             'Content-Type' => 'application/json; charset=latin1'), 415,
         'unsupported_media_type', 'another charset');

my $id = unique_digits(6);
$r = ops(POST => '/ops/v1/conventions',
         qq({"id": "$id", "name": "Gîte", "email": "g\@example.fr",
             "password": "twelve chars ok"}),
         'Content-Type' => 'application/json; charset=utf-8');
is($r->{status}, 201, 'a JSON body with charset=utf-8 is accepted');

my $big = '{"name": "' . ('x' x (64 * 1024)) . '"}';
error_is(ops(POST => '/ops/v1/conventions', $big, %json), 413,
         'payload_too_large', 'a body over 64 KiB');

# the same, chunked: no Content-Length to judge it by
{
    use IO::Socket::INET;
    my ($host, $port) = $ENV{CVC_TEST_URL} =~ m{//([^:]+):(\d+)};
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port)
        or die "connect: $!";
    print $s "POST /ops/v1/conventions HTTP/1.1\r\nHost: x\r\n"
        . "Authorization: Bearer $ENV{CVC_OPS_TOKEN}\r\n"
        . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        . "Connection: close\r\n\r\n";
    for (1 .. 5) {
        my $chunk = 'x' x 16000;
        printf $s "%x\r\n%s\r\n", length $chunk, $chunk;
    }
    print $s "0\r\n\r\n";
    local $/;
    my $answer = <$s>;
    like($answer, qr{^HTTP/1.1 413 }, 'a chunked body over 64 KiB: 413');
    like($answer, qr/"code":"payload_too_large"/, 'payload_too_large');
}

my $exact = '{"name": "' . ('x' x (64 * 1024 - 12)) . '"}';
is(length $exact, 64 * 1024, 'a body of exactly 64 KiB ...');
$r = ops(POST => '/ops/v1/conventions', $exact, %json);
is($r->{status}, 422, '... is read (and judged on its fields)');

# fields: unknown, wrong types, out of range, each named
$r = ops(POST => '/ops/v1/conventions',
         { id => 12345, name => '', email => 'not-an-address',
           password => 'short', colour => 'blue' });
error_is($r, 422, 'validation_failed', 'bad fields');
is_deeply([sort keys %{ $r->{json}{error}{fields} }],
          [qw(colour email id name password)], 'every bad field is named');
like($r->{json}{error}{fields}{colour}, qr/unknown/, 'an unknown field');
like($r->{json}{error}{fields}{id}, qr/string/, 'a number for a string');

$r = ops(POST => '/ops/v1/conventions', { name => 'x' x 256,
         email => 'a@b.fr', password => 'p' x 129 });
is_deeply([sort keys %{ $r->{json}{error}{fields} }], [qw(name password)],
          'overlong values');

$r = ops(POST => '/ops/v1/conventions', { email => 'a@b.fr' });
is_deeply([sort keys %{ $r->{json}{error}{fields} }], [qw(name password)],
          'missing fields');
like($r->{json}{error}{fields}{name}, qr/required/, 'named as required');

done_testing;
