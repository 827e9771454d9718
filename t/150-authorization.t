# Who sees what: /merchant/me and /points-of-sale for an admin and a point
# of sale; another convention's point of sale, or a sibling's, is a 404.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.150');

my $ca = new_convention(name => 'Hôtel du Port');
my $a1 = new_pos($ca, name => 'Réception', category => 'accommodation');
my $a2 = new_pos($ca, name => 'Restaurant', category => 'restaurants');
my $cb = new_convention(name => 'Musée');
my $b1 = new_pos($cb, name => 'Billetterie', category => 'leisure_and_culture');
my $cc = new_convention(name => 'Sans point');

my $admin_a = merchant_login($ca->{id}, $ca->{password});
my $admin_b = merchant_login($cb->{id}, $cb->{password});
my $admin_c = merchant_login($cc->{id}, $cc->{password});
my $pos_a1 = merchant_login($a1->{id}, $a1->{password});

sub get { my ($s, $path) = @_; return api_as($s->{token}, GET => $path) }
sub by_id { [sort { $a->{id} cmp $b->{id} } @{ $_[0] // [] }] }

# ---- /merchant/me ---------------------------------------------------------

my $r = get($admin_a, '/api/v1/merchant/me');
is($r->{status}, 200, 'admin: GET /merchant/me 200');
is_deeply([sort keys %{ $r->{json} // {} }],
          [qw(account notify_email points_of_sale)],
          '... {account, points_of_sale, notify_email}');
is_deeply($r->{json}{account}, { kind => 'admin', id => $ca->{id},
                                 convention => $ca->{id}, name => $ca->{name} },
          '... account as at login');
is_deeply(by_id($r->{json}{points_of_sale}),
          by_id([map { { id => $_->{id}, name => $_->{name},
                         category => $_->{category} } } $a1, $a2]),
          "... points_of_sale: the convention's two, {id, name, category}");
ok(exists $r->{json}{notify_email} && !defined $r->{json}{notify_email},
   '... notify_email null');

$r = get($pos_a1, '/api/v1/merchant/me');
is($r->{status}, 200, 'point of sale: GET /merchant/me 200');
is_deeply($r->{json}{account},
          { kind => 'point_of_sale', id => $a1->{id}, convention => $ca->{id},
            name => $a1->{name} }, '... account: the point of sale');
is_deeply($r->{json}{points_of_sale},
          [{ id => $a1->{id}, name => $a1->{name},
             category => $a1->{category} }], '... points_of_sale: itself');
ok(exists $r->{json}{notify_email} && !defined $r->{json}{notify_email},
   '... notify_email null');

$r = get($admin_c, '/api/v1/merchant/me');
is_deeply($r->{json}{points_of_sale}, [], 'a convention without points: []');

# ---- /points-of-sale ----------------------------------------------------------

sub listed {
    my ($pos, $conv) = @_;
    return { id => $pos->{id}, name => $pos->{name},
             category => $pos->{category}, convention => $conv->{id} };
}

$r = get($admin_a, '/api/v1/points-of-sale');
is($r->{status}, 200, 'admin: GET /points-of-sale 200');
is_deeply(by_id($r->{json}{data}), by_id([listed($a1, $ca), listed($a2, $ca)]),
          '... its convention\'s points of sale, {id, name, category, '
          . 'convention}, and no other');

$r = get($admin_b, '/api/v1/points-of-sale');
is_deeply($r->{json}{data}, [listed($b1, $cb)], "admin B: B's only");

$r = get($pos_a1, '/api/v1/points-of-sale');
is_deeply($r->{json}{data}, [listed($a1, $ca)], 'point of sale: itself only');

$r = get($admin_c, '/api/v1/points-of-sale');
is_deeply($r->{json}{data}, [], 'a convention without points: []');

error_ok(call(GET => '/api/v1/points-of-sale'), 401, 'unauthenticated',
         '/points-of-sale without a session');

# ---- other merchants' points of sale: 404 -----------------------------------------

sub keys_of { "/api/v1/points-of-sale/$_[0]{id}/api-keys" }
sub hook_of { "/api/v1/points-of-sale/$_[0]{id}/webhook" }

# B's own key and webhook, to aim at
$r = api_as($admin_b->{token}, POST => keys_of($b1), { name => 'B key' });
is($r->{status}, 201, "admin B creates a key on B's point of sale");
my $bkey = $r->{json} // {};
remember_secret($bkey->{secret}, 'api_key');
$r = api_as($admin_b->{token}, PUT => hook_of($b1),
            { url => 'https://b.example.com/hook' });
is($r->{status}, 200, "... and a webhook");
remember_secret(eval { $r->{json}{secret} }, 'webhook_secret');

my @cases = (
    [GET => keys_of($b1), undef, 'list the keys'],
    [POST => keys_of($b1), { name => 'intruder' }, 'create a key'],
    [DELETE => keys_of($b1) . "/$bkey->{id}", undef, 'revoke a key'],
    [GET => hook_of($b1), undef, 'read the webhook'],
    [PUT => hook_of($b1), { url => 'https://evil.example.com/' },
     'move the webhook'],
    [DELETE => hook_of($b1), undef, 'delete the webhook'],
);
for my $c (@cases) {
    my ($m, $path, $body, $what) = @$c;
    error_ok(api_as($admin_a->{token}, $m, $path, $body), 404, 'not_found',
             "admin A: $what of B's point of sale");
    error_ok(api_as($pos_a1->{token}, $m, $path, $body), 404, 'not_found',
             "point of sale A1: $what of B's point of sale");
}

# B's key through A's own point of sale
error_ok(api_as($admin_a->{token}, DELETE => keys_of($a1) . "/$bkey->{id}"),
         404, 'not_found', "admin A: revoke B's key under A1");

# a point of sale and its sibling
for my $c ([GET => keys_of($a2), undef, 'list the keys'],
           [POST => keys_of($a2), { name => 'sibling' }, 'create a key'],
           [GET => hook_of($a2), undef, 'read the webhook'],
           [PUT => hook_of($a2), { url => 'https://a2.example.com/' },
            'set the webhook'])
{
    my ($m, $path, $body, $what) = @$c;
    error_ok(api_as($pos_a1->{token}, $m, $path, $body), 404, 'not_found',
             "point of sale A1: $what of its sibling A2");
}

# nothing changed at B
$r = api_as($admin_b->{token}, GET => keys_of($b1));
is_deeply([map { $_->{id} } @{ $r->{json}{data} // [] }], [$bkey->{id}],
          "B's keys: only its own, none revoked");
$r = api_as($admin_b->{token}, GET => hook_of($b1));
is($r->{json}{url}, 'https://b.example.com/hook', "B's webhook unmoved");
$r = api_as($bkey->{secret} // 'x', GET =>
            '/api/v1/business-days?from=2026-06-24&add=1');
is($r->{status}, 200, "B's key still works");

# what A may do
$r = api_as($admin_a->{token}, GET => keys_of($a2));
is($r->{status}, 200, "admin A lists A2's keys");
$r = api_as($admin_a->{token}, POST => keys_of($a2), { name => 'A2 key' });
is($r->{status}, 201, "admin A creates a key on A2");
remember_secret(eval { $r->{json}{secret} }, 'api_key');
$r = api_as($pos_a1->{token}, POST => keys_of($a1), { name => 'A1 key' });
is($r->{status}, 201, 'point of sale A1 creates a key on itself');
remember_secret(eval { $r->{json}{secret} }, 'api_key');

# no such point of sale
my $ghost = unique_digits(12);
error_ok(api_as($admin_a->{token}, GET => "/api/v1/points-of-sale/$ghost/api-keys"),
         404, 'not_found', 'a point of sale that does not exist');
error_ok(api_as($admin_a->{token}, GET => '/api/v1/points-of-sale/abc/api-keys'),
         404, 'not_found', 'a malformed point of sale id');
error_ok(api_as($admin_a->{token}, GET => "/api/v1/points-of-sale/$ca->{id}/api-keys"),
         404, 'not_found', 'a convention id in place of a point of sale');

# the credential comes before the object
error_ok(call(GET => keys_of($b1)), 401, 'unauthenticated',
         "B's keys without a session: 401, not 404");
error_ok(call(GET => "/api/v1/points-of-sale/$ghost/api-keys"), 401,
         'unauthenticated', 'no such point of sale, no session: 401');

# the order of checks: body headers, credential, JSON, fields
error_ok(call(POST => keys_of($a1), '{"name": ', 'Content-Type' => 'application/json'),
         401, 'unauthenticated', 'no session and malformed JSON: 401 first');
error_ok(call(POST => keys_of($a1), { name => 'x', bogus => 1 }), 401,
         'unauthenticated', 'no session and a bad field: 401 first');
error_ok(call(POST => keys_of($a1), 'name=x',
              'Content-Type' => 'application/x-www-form-urlencoded'), 415,
         'unsupported_media_type', 'no session and a form: 415 first');
error_ok(api_as($admin_a->{token}, POST => keys_of($a1), '{"name": ',
                'Content-Type' => 'application/json'),
         400, 'invalid_json', 'a session and malformed JSON: 400');

done_testing;
