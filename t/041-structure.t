# The module's structure, as docs/architecture.md describes it: no file of
# ngx_cvc_module/ calls back into one that calls it (scripts/call-graph),
# no C file is longer than 600 lines nor any function than 85, each file
# opens with a paragraph that says what it owns, and the architecture
# document names every file of ngx_cvc_module/ and sql/functions/, and only
# files that exist.
use strict;
use warnings;
use Test::More;

my $root = $ENV{CVC_ROOT} // '.';

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

# no cycle between files

my $out = `$root/scripts/call-graph --check 2>&1`;
is($? >> 8, 0, 'no file calls back into one that calls it')
    or diag($out);

my $graph = `$root/scripts/call-graph 2>&1`;
like($graph, qr/^metrics\s+-> \(none\)$/m,
     'metrics.c is a leaf: every file counts into it, it calls none');
like($graph, qr/^pg_conn\s+-> event$/m,
     'a PostgreSQL connection calls nothing of its pool');

# sizes, and the opening paragraph

my @c = sort glob("$root/ngx_cvc_module/*.c");
my @h = sort glob("$root/ngx_cvc_module/*.h");
ok(@c > 30, scalar(@c) . ' C files');

for my $file (@c, @h) {
    my $text = slurp($file);
    (my $name = $file) =~ s{.*/}{};
    my $lines = () = $text =~ /\n/g;

    ok($text =~ m{\A\n/\*\n \* CVC gateway: \S},
       "$name opens with what it owns");

    next unless $name =~ /\.c$/;

    cmp_ok($lines, '<=', 600, "$name: $lines lines");

    # a function: its name at the start of a line, its body to the "}" at
    # the start of a line
    my @long;
    while ($text =~ /^(ngx_\w+)\([^;]*?\n\{\n(.*?)^\}\n/msg) {
        my ($fn, $body) = ($1, $2);
        my $n = () = $body =~ /\n/g;
        push @long, "$fn ($n lines)" if $n > 85;
    }
    is_deeply(\@long, [], "$name: no function over 85 lines");
}

# the architecture document and the files

my $doc = slurp("$root/docs/architecture.md");
my @sql = sort glob("$root/sql/functions/*.sql");

for my $file (@c, @h, @sql) {
    (my $name = $file) =~ s{.*/}{};
    ok(index($doc, $name) >= 0, "docs/architecture.md names $name");
}

my %exists = map { my $n = $_; $n =~ s{.*/}{}; ($n => 1) } @c, @h, @sql;

my %seen;

for my $named ($doc =~ /\b(ngx_http_cvc_\w+\.[ch]|\d{4}_\w+\.sql)\b/g) {
    next if $seen{$named}++;
    next if $named =~ /^\d{4}_/ && -e "$root/sql/migrations/$named";
    ok($exists{$named}, "$named, named in docs/architecture.md, exists");
}

done_testing();
