# Reading payment requests: GET /api/v1/payment-requests/{id} with its
# events (oldest first, with their actors), who may read which request
# (404 for anyone else), and the customer's own list
# (GET /api/v1/customer/payment-requests) with the merchant of each.
use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('192.0.2.220');
reset_clock();

my $ca = new_convention(name => 'Domaine des Cigales');
my $a1 = new_pos($ca, name => 'Réception des Cigales');
my $a2 = new_pos($ca, name => 'Piscine', category => 'sports_leisure');
my $cb = new_convention(name => 'Autre');
my $b1 = new_pos($cb, name => 'Ailleurs');
my $ben = new_beneficiary(balance => 50_000);
my $ben2 = new_beneficiary(balance => 50_000);

my $admin = merchant_login($ca->{id}, $ca->{password});
my $cash1 = merchant_login($a1->{id}, $a1->{password});
my $cash2 = merchant_login($a2->{id}, $a2->{password});
my $admin_b = merchant_login($cb->{id}, $cb->{password});
my $cash_b = merchant_login($b1->{id}, $b1->{password});
my ($key1, $key1_id) = new_api_key($admin->{token}, $a1->{id});
my ($key2) = new_api_key($admin->{token}, $a2->{id});
my $cust = customer_login($ben->{id}, $ben->{password});
my $cust2 = customer_login($ben2->{id}, $ben2->{password});

sub without_events { my %h = %{ $_[0] // {} }; delete $h{events}; \%h }
sub events_of {
    my ($token, $id) = @_;
    my $e = get_request($token, $id)->{json}{events};
    return ref $e eq 'ARRAY' ? $e : [];
}
sub types_actors { [map { "$_->{type} by $_->{actor}" } @{ $_[0] }] }

# ---- the request and its events ----------------------------------------------------------

my $p1 = new_request($cash1->{token}, customer => $ben->{id}, amount => 4000,
                     validation_delay_days => 2, label => 'Mobil-home');
my $r = get_request($admin->{token}, $p1->{id});
is($r->{status}, 200, 'GET /payment-requests/{id}: 200');
like($r->{headers}{'content-type'} // '', qr{^application/json}, '... JSON');
is_deeply([sort keys %{ $r->{json} // {} }], [sort(pr_members(), 'events')],
          "... the object's members and events");
is_deeply(without_events($r->{json}), $p1, '... the object as created');
my $ev = $r->{json}{events} // [];
is(scalar @$ev, 1, '... one event');
is_deeply([sort keys %{ $ev->[0] // {} }], [qw(actor at type)],
          '... {type, at, actor}');
is($ev->[0]{type}, 'created', '... created');
is($ev->[0]{actor}, "point_of_sale:$a1->{id}",
   "... by point_of_sale:<id> ($ev->[0]{actor})");
ok(is_utc_time($ev->[0]{at}), '... at in RFC 3339 UTC');
cmp_ok(abs((epoch_of($ev->[0]{at} // '') // 0)
           - (epoch_of($p1->{created_at}) // 0)), '<', 1, '... at creation');

sleep 1;
$r = pay_request($cust->{token}, $p1->{id}, $ben->{payment_code});
is($r->{json}{status}, 'to_validate', 'the customer pays it');
my $paid = $r->{json};
$ev = events_of($admin->{token}, $p1->{id});
is_deeply(types_actors($ev), ["created by point_of_sale:$a1->{id}",
                              "paid by customer:$ben->{id}"],
          'events: created, then paid by customer:<id>');
cmp_ok(abs((epoch_of($ev->[1]{at} // '') // 0)
           - (epoch_of($paid->{paid_at} // '') // 0)), '<', 1,
       '... paid at paid_at');
sleep 1;
is(api_as($admin->{token}, POST => "/api/v1/payment-requests/$p1->{id}/confirm")
       ->{json}{status}, 'validated', 'the admin confirms it');
$r = get_request($cash1->{token}, $p1->{id});
$ev = $r->{json}{events} // [];
is_deeply(types_actors($ev), ["created by point_of_sale:$a1->{id}",
                              "paid by customer:$ben->{id}",
                              "confirmed by admin:$ca->{id}"],
          'events: created, paid, confirmed by admin:<id>, oldest first');
ok((epoch_of($ev->[0]{at} // '') // 0) < (epoch_of($ev->[1]{at} // '') // 0)
   && (epoch_of($ev->[1]{at} // '') // 0) < (epoch_of($ev->[2]{at} // '') // 0),
   '... in the order of their times');
is($r->{json}{status}, 'validated', '... and the request is validated');

my $p2 = new_request($key1, customer => $ben->{email});
$ev = events_of($key1, $p2->{id});
is_deeply(types_actors($ev), ["created by api_key:$key1_id"],
          'created with an API key: by api_key:<id>');
api_as($key1, POST => "/api/v1/payment-requests/$p2->{id}/cancel");
$ev = events_of($admin->{token}, $p2->{id});
is_deeply(types_actors($ev), ["created by api_key:$key1_id",
                              "cancelled by api_key:$key1_id"],
          '... and cancelled with it');

my $p3 = new_request($admin->{token}, point_of_sale => $a2->{id},
                     customer => $ben->{id});
api_as($cust->{token}, POST => "/api/v1/customer/payment-requests/$p3->{id}/refuse");
$ev = events_of($admin->{token}, $p3->{id});
is_deeply(types_actors($ev), ["created by admin:$ca->{id}",
                              "refused by customer:$ben->{id}"],
          'created by an admin, refused by the customer');

# ---- who may read it --------------------------------------------------------------------------

my $p4 = new_request($cash2->{token}, customer => $ben2->{id});
for my $case ([$admin, $p1, 'its admin, a request of point of sale 1'],
              [$admin, $p4, 'its admin, a request of point of sale 2'],
              [$cash1, $p1, 'point of sale 1, its request'],
              [{ token => $key1 }, $p1, "point of sale 1's API key, its request"],
              [$cash2, $p4, 'point of sale 2, its request'],
              [{ token => $key2 }, $p4, "point of sale 2's API key, its request"])
{
    $r = get_request($case->[0]{token}, $case->[1]{id});
    is($r->{status}, 200, "$case->[2]: 200");
    is($r->{json}{id}, $case->[1]{id}, '... that request');
}
for my $case ([$cash1, $p4, 'point of sale 1, a request of point of sale 2'],
              [$cash2, $p1, 'point of sale 2, a request of point of sale 1'],
              [{ token => $key2 }, $p1, "point of sale 2's API key, a request "
                                        . 'of point of sale 1'],
              [{ token => $key1 }, $p4, "point of sale 1's API key, a request "
                                        . 'of point of sale 2'],
              [$admin_b, $p1, "another convention's admin"],
              [$cash_b, $p4, "another convention's point of sale"])
{
    $r = get_request($case->[0]{token}, $case->[1]{id});
    error_ok($r, 404, 'not_found', $case->[2]);
    unlike($r->{raw}, qr/\Q$case->[1]{basket_number}\E/, '... nothing of it');
}
error_ok(get_request($admin->{token}, 'pr_' . '0' x 24), 404, 'not_found',
         'an id of nothing');
error_ok(get_request($admin->{token}, 'nimportequoi'), 404, 'not_found',
         'a malformed id');
error_ok(call(GET => "/api/v1/payment-requests/$p1->{id}"), 401,
         'unauthenticated', 'no credential');
$r = get_request($cust->{token}, $p1->{id});
ok($r->{status} == 401 || $r->{status} == 403,
   "the customer's session on the merchant route: 401 or 403 "
   . "(got $r->{status})");
error_ok(api_as($admin->{token}, DELETE => "/api/v1/payment-requests/$p1->{id}"),
         405, 'method_not_allowed', 'DELETE a request');

# ---- the customer's list ------------------------------------------------------------------------

my $p5 = new_request($cash1->{token}, customer => uc $ben->{email},
                     amount => 1234, mode => 'deferred',
                     pay_by => add_days(paris_date(time), 10));
my $list = '/api/v1/customer/payment-requests';
$r = api_as($cust->{token}, GET => $list);
is($r->{status}, 200, 'GET /customer/payment-requests: 200');
is_deeply([sort keys %{ $r->{json} // {} }], [qw(data next_cursor)],
          '... {data, next_cursor}');
my $data = $r->{json}{data} // [];
is_deeply([map { $_->{id} } @$data],
          [map { $_->{id} } $p5, $p3, $p2, $p1],
          "... the customer's four requests (by id or e-mail), newest first");
ok(exists $r->{json}{next_cursor} && !defined $r->{json}{next_cursor},
   '... next_cursor null');
is_deeply([sort keys %{ $data->[0] // {} }],
          [sort grep { $_ ne 'events' } pr_members(), 'merchant'],
          "... each: the request's members and merchant");
is_deeply($data->[0]{merchant}, { point_of_sale => $a1->{id},
                                  name => $a1->{name} },
          '... merchant: {point_of_sale, name}');
is_deeply($data->[1]{merchant}, { point_of_sale => $a2->{id},
                                  name => $a2->{name} },
          '... of each request');
my %want = (%$p5, merchant => $data->[0]{merchant});
is_deeply($data->[0], \%want, '... the request as created');
is($data->[3]{status}, 'validated', '... as it is now (validated)');
is($data->[2]{status}, 'cancelled', '... (cancelled)');
is($data->[1]{status}, 'refused', '... (refused)');

$r = api_as($cust2->{token}, GET => $list);
is_deeply([map { $_->{id} } @{ $r->{json}{data} // [] }], [$p4->{id}],
          'another customer: only its own');

for my $case (['awaiting_payment', [$p5]], ['validated', [$p1]],
              ['refused', [$p3]], ['to_validate', []])
{
    $r = api_as($cust->{token}, GET => "$list?status=$case->[0]");
    is($r->{status}, 200, "?status=$case->[0]: 200");
    is_deeply([map { $_->{id} } @{ $r->{json}{data} // [] }],
              [map { $_->{id} } @{ $case->[1] }], "... those");
}
for my $bad ('status=paid', 'status=', 'limit=0', 'limit=101', 'limit=x',
             'cursor=garbage')
{
    error_ok(api_as($cust->{token}, GET => "$list?$bad"), 400,
             'invalid_parameter', "the customer's list, ?$bad");
}

my @seen;
my $path = "$list?limit=3";
my $pages = 0;
while (defined $path && $pages < 5) {
    $r = api_as($cust->{token}, GET => $path);
    if ($r->{status} != 200) { diag "$path: $r->{status} $r->{raw}"; last }
    $pages++;
    push @seen, map { $_->{id} } @{ $r->{json}{data} // [] };
    my $c = $r->{json}{next_cursor};
    $path = defined $c ? "$list?limit=3&cursor=" . url_escape($c) : undef;
}
is($pages, 2, 'limit=3: two pages');
is_deeply(\@seen, [map { $_->{id} } $p5, $p3, $p2, $p1],
          '... which hold the four, once each, in order');

error_ok(call(GET => $list), 401, 'unauthenticated',
         "the customer's list without a session");
$r = api_as($admin->{token}, GET => $list);
ok($r->{status} == 401 || $r->{status} == 403,
   "a merchant's session on the customer's list: 401 or 403 "
   . "(got $r->{status})");

done_testing;
