# The export of the operations list: CSV that Excel opens as it is, XLSX,
# the list's filters and rights, and a worker whose memory does not grow
# with the number of rows (200 000 of them).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ':sys_wait_h';
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.29');

my $conv = new_convention();
my $pos = new_pos($conv);
my $other = new_pos($conv);
my $ben = new_beneficiary();
my $admin = merchant_login($conv->{id}, $conv->{password});
my $seller = merchant_login($pos->{id}, $pos->{password});

# a few requests through the API, one with a label Excel must not split
my @made;
for my $i (1 .. 3) {
    my $r = api_as($seller->{token}, POST => '/api/v1/payment-requests',
                   { mode => 'immediate', amount => 4000 + $i,
                     basket_number => "EXP-$i-" . unique_digits(6),
                     customer => $ben->{id},
                     label => $i == 1 ? 'Sejour; "mobil-home"' : undef });
    is($r->{status}, 201, "request $i created") or diag $r->{raw};
    push @made, $r->{json};
}
my $r = api_as($admin->{token}, POST => '/api/v1/payment-requests',
               { point_of_sale => $other->{id}, mode => 'immediate',
                 amount => 999, basket_number => 'OTHER-' . unique_digits(6),
                 customer => $ben->{id} });
is($r->{status}, 201, 'one at the other point of sale');

sub export {
    my ($token, $query, $file) = @_;
    my $url = "$ENV{CVC_TEST_URL}/api/v1/payment-requests/export?$query";
    my $head = `curl -s -D - -o '$file' -H 'Authorization: Bearer $token' '$url'`;
    my ($status) = $head =~ m{^HTTP/\S+ (\d+)};
    return ($status // 0, $head);
}

my $dir = "$ENV{CVC_TEST_DIR}/tmp";
my ($status, $head) = export($seller->{token}, 'format=csv', "$dir/a.csv");
is($status, 200, 'CSV: 200');
like($head, qr{^Content-Type: text/csv; charset=utf-8\r?$}mi, 'text/csv, UTF-8');
like($head, qr{^Content-Disposition: attachment; filename="operations-\d{8}\.csv"\r?$}mi,
     'a download');

open my $fh, '<:raw', "$dir/a.csv" or die;
my $csv = do { local $/; <$fh> };
like($csv, qr/^\xEF\xBB\xBF/, 'a UTF-8 BOM');
my @lines = split /\r\n/, substr($csv, 3);
is($lines[0], join(';', 'Dernière action', 'N° de panier', 'Type de paiement',
                   'Statut', 'Montant demandé', 'Montant reçu',
                   'Montant remboursé', 'Client', 'Libellé',
                   'Référence client', 'Identifiant vendeur',
                   "Point d'accueil", 'Identifiant de la demande'),
   'French headers, ";"-separated');
is(scalar(@lines), 4, 'one line per request of this point of sale, no total');
like($lines[1], qr{^\d\d/\d\d/\d{4} \d\dh\d\d;EXP-3-\d+;Paiement immédiat;En attente de paiement client;40,03;;0,00;}, 
     'newest first, French words, amounts as 40,03');
like($csv, qr/;"Sejour; ""mobil-home""";/, 'a ";" or a quote in a field is quoted');
unlike($csv, qr/OTHER-/, "a point of sale exports only its own");

($status) = export($admin->{token}, 'format=csv', "$dir/b.csv");
open $fh, '<:raw', "$dir/b.csv" or die;
my @admin_lines = split /\r\n/, do { local $/; <$fh> };
is(scalar(@admin_lines), 5, 'the admin exports both points of sale');

($status) = export($admin->{token}, "format=csv&point_of_sale=$other->{id}",
                   "$dir/c.csv");
open $fh, '<:raw', "$dir/c.csv" or die;
my @filtered = split /\r\n/, do { local $/; <$fh> };
is(scalar(@filtered), 2, 'the list\'s filters apply');

($status, $head) = export($seller->{token}, 'format=xlsx', "$dir/a.xlsx");
is($status, 200, 'XLSX: 200');
like($head, qr{^Content-Type: application/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet\r?$}mi,
     'the XLSX type');
open $fh, '<:raw', "$dir/a.xlsx" or die;
read $fh, my $magic, 2;
is($magic, 'PK', 'a zip (an .xlsx) file');

# errors, in the contract's format
for my $bad (['', 'no format'], ['format=pdf', 'another format'],
             ['format=csv&status=paid', 'a bad status'],
             ['format=csv&limit=5', 'a limit'])
{
    $r = api_as($seller->{token}, GET => "/api/v1/payment-requests/export?$bad->[0]");
    is($r->{status}, 400, "$bad->[1]: 400");
    is($r->{json}{error}{code}, 'invalid_parameter', "$bad->[1]: invalid_parameter");
}
$r = api_as($seller->{token}, GET => "/api/v1/payment-requests/export?format=csv&point_of_sale=$other->{id}");
is($r->{status}, 404, "a sibling point of sale: 404");
is(api(GET => '/api/v1/payment-requests/export?format=csv')->{status}, 401,
   'no credential: 401');

# 200 000 rows: the worker's memory stays flat

my $n = 200_000;
psql(<<SQL);
insert into cvc.payment_requests (id, point_of_sale_id, mode, status, amount,
    allow_partial, basket_number, customer, beneficiary_id,
    validation_delay_days, on_validation_expiry, pay_by, created_by,
    created_at, last_action_at, label)
select 'pr_' || lpad(to_hex(g), 24, '0') || '', '$pos->{id}', 'deferred',
       'expired', 100 + g % 5000, false, 'BULK-' || g, '$ben->{id}',
       '$ben->{id}', 0, 'cancel', now() - interval '1 day', 'system',
       now() - g * interval '1 second', now() - g * interval '1 second',
       'Libellé ' || g
from generate_series(1, $n) g
SQL
is(psql("select count(*) from cvc.payment_requests where point_of_sale_id = '$pos->{id}'"),
   $n + 3, "$n requests more");

sub rss_kb {
    my ($pid) = @_;
    open my $s, '<', "/proc/$pid/status" or return 0;
    while (<$s>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

my $worker = worker_pid();

for my $format (qw(csv xlsx)) {
    my $file = "$dir/big.$format";
    my $before = rss_kb($worker);
    my $peak = $before;
    my $t0 = time;
    my $pid = fork // die;
    if ($pid == 0) {
        my ($st) = export($seller->{token}, "format=$format", $file);
        POSIX::_exit($st == 200 ? 0 : 1);
    }
    while (waitpid($pid, WNOHANG) == 0) {
        my $now = rss_kb($worker);
        $peak = $now if $now > $peak;
        sleep 0.02;
    }
    is($? >> 8, 0, "$format: 200 for $n rows");
    my $grew = ($peak - $before) / 1024;
    SKIP: {
        # AddressSanitizer keeps freed memory in quarantine (256 MB) and
        # never gives it back: the worker's RSS says nothing then
        skip "$format: RSS is not measured under the sanitizers", 1
            if $ENV{SANITIZE};
        cmp_ok($grew, '<', 24, sprintf("$format: the worker grew by %.1f MB "
                                       . "(%d KB before, %.1f s)", $grew,
                                       $before, time - $t0));
    }
    ok(-s $file > 1_000_000, "$format: a file of " . (-s $file) . ' bytes');
    if ($format eq 'csv') {
        open my $big, '<:raw', $file or die;
        my $count = 0;
        $count++ while <$big>;
        is($count, $n + 4, 'every row is there');
    }
    unlink $file;
}

done_testing;
