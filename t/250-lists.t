# The merchant's operations list (GET /api/v1/payment-requests): newest
# last action first, the filters (point_of_sale, status repeated or
# comma-separated, type, basket_number, from/to as Paris dates, amounts),
# the counts, keyset pages that hold every row once even while requests
# are created, bad parameters, and who sees which points of sale.
use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('192.0.2.250');

my $conv = new_convention(name => 'Parc de loisirs');
my $posA = new_pos($conv, name => 'Entrée du parc',
                   category => 'leisure_and_culture');
my $posB = new_pos($conv, name => 'Restaurant du parc',
                   category => 'restaurants');
my $oconv = new_convention();
my $posO = new_pos($oconv);
my $ben = new_beneficiary(balance => 1_000_000);
my $u = unique_digits(6);

my ($admin, $c);
keep_logged_in(\$admin => $conv, \$c => $ben);   # at() logs them in again
sub make {
    my ($pos, $name, %f) = @_;
    return new_request($admin->{token}, point_of_sale => $pos->{id},
                       customer => $ben->{id}, mode => 'deferred',
                       pay_by => '2026-12-31', basket_number => "L$u-$name",
                       %f);
}
sub pay {
    my ($p) = @_;
    my $r = pay_request($c->{token}, $p->{id}, $ben->{payment_code});
    die "pay: $r->{status} $r->{raw}" unless $r->{status} == 200;
}

# The operations, in Paris time (winter: UTC+1):
at('2026-03-02T08:00:00Z');                       # Mon 2 March 09:00
my $A1 = make($posA, 'A1', amount => 1000);
at('2026-03-02T09:00:00Z');
my $A2 = make($posA, 'A2', amount => 2000, validation_delay_days => 6);
at('2026-03-02T10:00:00Z');
pay($A2);                                         # to_validate
at('2026-03-02T22:30:00Z');                       # Mon 2 March 23:30
my $B1 = make($posB, 'B1', amount => 3000);
at('2026-03-02T23:30:00Z');                       # Tue 3 March 00:30
my $A3 = make($posA, 'A3', amount => 4000, mode => 'immediate',
              pay_by => undef);
pay($A3);                                         # validated
at('2026-03-03T10:00:00Z');
my $B2 = make($posB, 'B2', amount => 5000, validation_delay_days => 6);
pay($B2);                                         # to_validate
at('2026-03-03T12:00:00Z');
my $A4 = make($posA, 'A4', amount => 6000);
at('2026-03-03T13:00:00Z');
api_as($admin->{token}, POST => "/api/v1/payment-requests/$A4->{id}/cancel");
at('2026-03-04T09:00:00Z');                       # Wed 4 March 10:00
my $A5 = make($posA, 'A5', amount => 7000);
at('2026-03-04T10:00:00Z');
api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$A5->{id}/refuse");
at('2026-03-04T11:00:00Z');
pay($A1);                                         # validated: A1 moves up
at('2026-03-04T12:00:00Z');
my $A6 = make($posA, 'A6', amount => 500);
my $oadmin = merchant_login($oconv->{id}, $oconv->{password});
my $O1 = new_request($oadmin->{token}, point_of_sale => $posO->{id},
                     customer => $ben->{id}, amount => 2500,
                     basket_number => "L$u-O1");
my $mA = merchant_login($posA->{id}, $posA->{password});
my $mB = merchant_login($posB->{id}, $posB->{password});
my ($keyA) = new_api_key($admin->{token}, $posA->{id});

my %name = map { $_->[1]{id} => $_->[0] }
    (['A1', $A1], ['A2', $A2], ['A3', $A3], ['A4', $A4], ['A5', $A5],
     ['A6', $A6], ['B1', $B1], ['B2', $B2], ['O1', $O1]);
my @ALL = qw(A6 A1 A5 A4 B2 A3 B1 A2);      # newest last action first

sub list {
    my ($token, $query) = @_;
    return api_as($token, GET => '/api/v1/payment-requests'
                                 . (defined $query && length $query ? "?$query" : ''));
}
sub names {
    my ($r) = @_;
    return [map { $name{$_->{id}} // "other:$_->{id}" }
            @{ (eval { $r->{json}{data} }) // [] }];
}
sub listed {
    my ($token, $query, $want, $counts, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = list($token, $query);
    is($r->{status}, 200, "$name: 200") or diag $r->{raw};
    is_deeply(names($r), $want, "$name: " . (join(' ', @$want) || 'none'));
    is_deeply(eval { $r->{json}{counts} }, $counts,
              "$name: counts to_validate $counts->{to_validate}, "
              . "awaiting_payment $counts->{awaiting_payment}") if $counts;
    return $r;
}
sub counts { { to_validate => $_[0], awaiting_payment => $_[1] } }

# ---- the list --------------------------------------------------------------------------------

my $r = listed($admin->{token}, '', \@ALL, counts(2, 2),
               'the admin, no filter');
is_deeply([sort keys %{ $r->{json} // {} }], [qw(counts data next_cursor)],
          '... {data, next_cursor, counts}');
ok(exists $r->{json}{next_cursor} && !defined $r->{json}{next_cursor},
   '... next_cursor null: one page');
like($r->{raw}, qr/"to_validate"\s*:\s*2\b/, '... counts are JSON numbers');
my $row = (grep { $_->{id} eq $A1->{id} } @{ $r->{json}{data} // [] })[0] // {};
is_deeply([grep { !exists $row->{$_} } pr_members()], [],
          '... each row has the members of the request');
is($row->{status}, 'validated', '... as it is now');
like($row->{last_action_at} // '', qr/^2026-03-04T11:00:\d\dZ\z/,
     '... last_action_at: the payment');

listed($mA->{token}, '', [qw(A6 A1 A5 A4 A3 A2)], counts(1, 1),
       'point of sale A: its own');
listed($keyA, '', [qw(A6 A1 A5 A4 A3 A2)], counts(1, 1),
       "point of sale A's API key: A's");
listed($mB->{token}, '', [qw(B2 B1)], counts(1, 1),
       'point of sale B: its own');
listed($oadmin->{token}, '', ['O1'], counts(0, 1),
       "another convention's admin: only its own");

# ---- filters ------------------------------------------------------------------------------------

listed($admin->{token}, "point_of_sale=$posA->{id}", [qw(A6 A1 A5 A4 A3 A2)],
       counts(1, 1), 'point_of_sale=A');
listed($admin->{token}, "point_of_sale=$posB->{id}", [qw(B2 B1)],
       counts(1, 1), 'point_of_sale=B');
listed($admin->{token}, 'status=to_validate', [qw(B2 A2)], counts(2, 2),
       'status=to_validate');
listed($admin->{token}, 'status=to_validate&status=awaiting_payment',
       [qw(A6 B2 B1 A2)], counts(2, 2), 'status repeated');
listed($admin->{token}, 'status=to_validate,awaiting_payment',
       [qw(A6 B2 B1 A2)], counts(2, 2), 'status comma-separated');
listed($admin->{token}, 'status=validated', [qw(A1 A3)], counts(2, 2),
       'status=validated');
listed($admin->{token}, 'status=cancelled', ['A4'], counts(2, 2),
       'status=cancelled');
listed($admin->{token}, 'status=refused', ['A5'], counts(2, 2),
       'status=refused');
listed($admin->{token}, 'status=expired', [], counts(2, 2), 'status=expired');
listed($admin->{token}, 'type=pre_reservation', [qw(B2 A2)], counts(2, 2),
       'type=pre_reservation');
listed($admin->{token}, 'type=immediate_payment', ['A3'], counts(2, 2),
       'type=immediate_payment');
listed($admin->{token}, 'type=deferred_payment', [qw(A6 A1 A5 A4 B1)],
       counts(2, 2), 'type=deferred_payment');
listed($admin->{token}, 'basket_number=' . url_escape("L$u-A4"), ['A4'],
       counts(2, 2), 'basket_number');
listed($admin->{token}, 'basket_number=' . url_escape("L$u-A"), [],
       counts(2, 2), 'basket_number: the whole number, not a prefix');
listed($admin->{token}, 'basket_number=' . url_escape("L$u-O1"), [],
       counts(2, 2), "basket_number of another convention's");

listed($admin->{token}, 'from=2026-03-03&to=2026-03-03', [qw(A4 B2 A3)],
       undef, 'from=to=3 March (Paris: 00:30 is the 3rd)');
listed($admin->{token}, 'from=2026-03-04', [qw(A6 A1 A5)], undef,
       'from=4 March');
listed($admin->{token}, 'to=2026-03-02', [qw(B1 A2)], undef,
       'to=2 March (Paris: 23:30 is the 2nd)');
listed($admin->{token}, 'from=2026-03-02&to=2026-03-04', \@ALL, undef,
       'from 2 to 4 March: all');
listed($admin->{token}, 'from=2026-03-05', [], counts(2, 2), 'from=5 March');
listed($admin->{token}, 'min_amount=2000&max_amount=5000',
       [qw(B2 A3 B1 A2)], undef, 'min_amount=2000&max_amount=5000 (inclusive)');
listed($admin->{token}, 'min_amount=6000', [qw(A5 A4)], undef,
       'min_amount=6000');
listed($admin->{token}, 'max_amount=1000', [qw(A6 A1)], undef,
       'max_amount=1000');
listed($admin->{token}, "point_of_sale=$posA->{id}&status=validated"
                        . '&from=2026-03-04', ['A1'], counts(1, 1),
       'point_of_sale, status and from together');
listed($admin->{token}, "point_of_sale=$posB->{id}&status=validated", [],
       counts(1, 1), 'nothing found: counts still over B');
listed($mA->{token}, 'status=to_validate', ['A2'], counts(1, 1),
       'point of sale A, status=to_validate');

# ---- bad parameters ---------------------------------------------------------------------------

for my $bad ('limit=0', 'limit=101', 'limit=-1', 'limit=abc', 'limit=1.5',
             'limit=', 'cursor=garbage', 'cursor=', 'status=paid',
             'status=validated,paid', 'status=', 'type=immediate',
             'type=pre-reservation', 'from=2026-13-01', 'from=03/03/2026',
             'to=2026-02-30', 'from=2026-3-3', 'min_amount=abc',
             'min_amount=-1', 'max_amount=1.5', 'max_amount=')
{
    error_ok(list($admin->{token}, $bad), 400, 'invalid_parameter',
             "?$bad");
}
listed($admin->{token}, 'limit=100', \@ALL, undef, 'limit=100');

# ---- pages ----------------------------------------------------------------------------------------

sub walk {
    my ($token, $query, $between) = @_;
    my (@seen, @pages);
    my $path = $query;
    while (@pages < 20) {
        my $r = list($token, $path);
        if ($r->{status} != 200) {
            push @pages, "error $r->{status}";
            diag "?$path: $r->{raw}";
            last;
        }
        my $n = names($r);
        push @pages, scalar @$n;
        push @seen, @$n;
        my $next = $r->{json}{next_cursor};
        last unless defined $next;
        $between->() if $between;
        $path = "$query&cursor=" . url_escape($next);
    }
    return (\@seen, \@pages);
}

my ($seen, $pages) = walk($admin->{token}, 'limit=3');
is_deeply($pages, [3, 3, 2], 'limit=3: pages of 3, 3 and 2');
is_deeply($seen, \@ALL, '... every row once, in order');
($seen, $pages) = walk($admin->{token}, 'limit=1');
is_deeply($seen, \@ALL, 'limit=1: every row once, in order');
is(scalar @$pages, 8, '... in 8 pages');
($seen, $pages) = walk($admin->{token}, 'limit=2&status=to_validate,awaiting_payment');
is_deeply($seen, [qw(A6 B2 B1 A2)], 'pages of a filtered list');
is_deeply($pages, [2, 2], '... 2 and 2');
($seen) = walk($admin->{token}, 'limit=2&from=2026-03-03&to=2026-03-03');
is_deeply($seen, [qw(A4 B2 A3)], '... filtered by dates');
$r = list($admin->{token}, 'limit=8');
ok(!defined $r->{json}{next_cursor}, 'limit=8 with 8 rows: next_cursor null')
    or diag "next_cursor: $r->{json}{next_cursor}";

my @new;
my $i = 0;
($seen, $pages) = walk($admin->{token}, 'limit=3', sub {
    for (1 .. 2) {
        my $p = make($_ == 1 ? $posA : $posB, 'N' . ++$i, amount => 100 + $i);
        $name{$p->{id}} = "N$i";
        push @new, "N$i";
    }
});
is_deeply($seen, \@ALL, 'requests created between the pages: the walk still '
                        . 'holds every row once, and none of the new ones');
is(scalar @new, 4, '... (4 created during the walk)');
listed($admin->{token}, 'limit=4', [reverse @new], undef,
       'the new ones come first now, newest first');
($seen) = walk($admin->{token}, 'limit=5');
is_deeply($seen, [reverse(@new), @ALL], '... and a new walk holds them all');

# ---- the default page: 20 ------------------------------------------------------------------------

my $conv2 = new_convention();
my $posC = new_pos($conv2);
my $mC = merchant_login($posC->{id}, $posC->{password});
my @C = map { new_request($mC->{token}, customer => $ben->{id}, mode => 'deferred',
                          pay_by => '2026-12-31', amount => 100 + $_)->{id} }
        1 .. 23;
$r = list($mC->{token}, '');
is(scalar @{ $r->{json}{data} // [] }, 20, '23 requests: a first page of 20');
ok(defined $r->{json}{next_cursor}, '... and a next_cursor');
is_deeply($r->{json}{counts}, counts(0, 23), '... counts: 23 awaiting payment');
is_deeply([map { $_->{id} } @{ $r->{json}{data} // [] }], [reverse @C[3 .. 22]],
          '... the 20 newest');
$r = list($mC->{token}, 'cursor=' . url_escape($r->{json}{next_cursor} // ''));
is_deeply([map { $_->{id} } @{ $r->{json}{data} // [] }], [reverse @C[0 .. 2]],
          '... then the 3 others');
ok(exists $r->{json}{next_cursor} && !defined $r->{json}{next_cursor},
   '... and next_cursor null');

error_ok(call(GET => '/api/v1/payment-requests'), 401, 'unauthenticated',
         'the list without a credential');
$r = list($c->{token}, '');
ok($r->{status} == 401 || $r->{status} == 403,
   "the customer's session: 401 or 403 (got $r->{status})");

is(reset_clock(), 204, 'clock back to real time');

done_testing;
