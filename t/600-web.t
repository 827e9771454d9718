#!/usr/bin/perl
# The web front end in a real browser: web/e2e/run.mjs drives Debian's
# chromium (headless, through playwright-core) against this test stack and
# prints TAP. CVC_SCREENSHOTS=<dir> saves the main screens as PNG.
use strict;
use warnings;
use FindBin;

my $root = $ENV{CVC_ROOT} || "$FindBin::Bin/..";
my $chromium = $ENV{CVC_CHROMIUM} || '/usr/bin/chromium';

sub skip_all { print "1..0 # SKIP $_[0]\n"; exit 0 }

skip_all("no chromium at $chromium (apt-get install chromium)") unless -x $chromium;
skip_all('no node') unless system('node --version >/dev/null 2>&1') == 0;
die "web/node_modules/playwright-core missing: run make test (npm ci in web/)\n"
    unless -d "$root/web/node_modules/playwright-core";
die "web/dist missing: run make web\n" unless -f "$root/web/dist/index.html";
die "CVC_TEST_URL is not set: run me through make test\n" unless $ENV{CVC_TEST_URL};

chdir $root or die "chdir $root: $!";
exec 'node', 'web/e2e/run.mjs' or die "node: $!";
