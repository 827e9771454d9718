# Payment codes are kept as payment schemes keep PINs: a keyed hash
# (HMAC-SHA-256 with the key of cvc_payment_code_key, which PostgreSQL
# never sees), checked on the event loop, with the 3 strikes unchanged.
# A code hashed before with scrypt still pays, and is hashed again with
# the key by that payment. A hash of another key is an error, not a wrong
# code. nginx refuses to start without a usable key file.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(hmac_sha256 sha256_hex);
use MIME::Base64 qw(encode_base64);
use File::Temp ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.236');

my $conv = new_convention();
my $pos = new_pos($conv);
my $m = merchant_login($pos->{id}, $pos->{password});

my $key_file = "$ENV{CVC_TEST_DIR}/payment_code.key";
my $key = do { open my $fh, '<:raw', $key_file or die "$key_file: $!"; local $/; <$fh> };
my $key_id = substr(sha256_hex($key), 0, 8);

sub code_hash_of {
    my ($b) = @_;
    return psql("select payment_code_hash from cvc.beneficiaries "
                . "where id = '$b->{id}'");
}

sub set_code_hash {
    my ($b, $hash) = @_;
    psql("update cvc.beneficiaries set payment_code_hash = "
         . sql_quote($hash) . " where id = '$b->{id}'");
}

sub pays {
    my ($b, $code, $amount) = @_;
    my $c = customer_login($b->{id}, $b->{password});
    my $pr = new_request($m->{token}, customer => $b->{id},
                         amount => $amount // 100);
    return pay_request($c->{token}, $pr->{id}, $code);
}

# ---- the keyed hash ---------------------------------------------------------

my $b1 = new_beneficiary(balance => 10_000, payment_code => '246810');
my $b2 = new_beneficiary(balance => 10_000, payment_code => '246810');
my $h1 = code_hash_of($b1);
like($h1, qr{^\$hmac-sha256\$\Q$key_id\E\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=\z},
     'a new code is kept as $hmac-sha256$<key id>$<salt>$<mac>');
unlike($h1, qr/246810/, '... not the code itself');
isnt(code_hash_of($b2), $h1, 'the same code of two customers: two hashes');

my ($salt_b64, $mac_b64) = $h1 =~ /\$([^\$]+)\$([^\$]+)\z/;
my $salt = MIME::Base64::decode_base64($salt_b64);
is(encode_base64(hmac_sha256($salt . '246810', $key), ''), $mac_b64,
   '... the MAC is HMAC-SHA-256(key, salt || code)');

is(pays($b1, '246810')->{status}, 200, 'the code pays');
my $r = pays($b1, '246811');
error_ok($r, 403, 'invalid_payment_code', 'a wrong code');
is($r->{json}{error}{attempts_left}, 2, '... attempts_left 2');

# ---- a code hashed with scrypt before the key ------------------------------

# scrypt_hash($code): as the module made them, $scrypt$ln=15,r=8,p=3$...
sub scrypt_hash {
    my ($code) = @_;
    my $h = `python3 -c 'import base64, hashlib, os
s = os.urandom(16)
k = hashlib.scrypt(b"$code", salt=s, n=2**15, r=8, p=3, maxmem=128 << 20, dklen=32)
print("\$scrypt\$ln=15,r=8,p=3\$%s\$%s" % (base64.b64encode(s).decode(), base64.b64encode(k).decode()))'`;
    chomp $h;
    return $h;
}

my $b3 = new_beneficiary(balance => 10_000, payment_code => '135791');
my $scrypt = scrypt_hash('135791');
like($scrypt, qr/^\$scrypt\$ln=15,r=8,p=3\$/, 'an scrypt hash of the code');
set_code_hash($b3, $scrypt);

$r = pays($b3, '135790');
error_ok($r, 403, 'invalid_payment_code', 'a wrong code against an scrypt hash');
is(code_hash_of($b3), $scrypt, '... the hash is left as it was');
is(pays($b3, '135791')->{status}, 200, 'the right code pays');
like(code_hash_of($b3), qr{^\$hmac-sha256\$\Q$key_id\E\$},
     '... and its hash is now the keyed one');
is(pays($b3, '135791')->{status}, 200, 'the next payment checks that');

# a right scrypt code whose payment fails keeps the old hash
my $b4 = new_beneficiary(balance => 50, payment_code => '975310');
set_code_hash($b4, scrypt_hash('975310'));
my $before = code_hash_of($b4);
error_ok(pays($b4, '975310', 1000), 402, 'insufficient_funds',
         'a right scrypt code, a payment the wallet can\'t cover');
is(code_hash_of($b4), $before, '... nothing of it was written, the hash neither');

# ---- a hash of another key --------------------------------------------------

my $b5 = new_beneficiary(balance => 10_000, payment_code => '112233');
my $other = 'another key of thirty-two bytes!';
my $s5 = 'sixteen byte slt';
set_code_hash($b5, '$hmac-sha256$' . substr(sha256_hex($other), 0, 8) . '$'
                   . encode_base64($s5, '') . '$'
                   . encode_base64(hmac_sha256($s5 . '112233', $other), ''));
$r = pays($b5, '112233');
error_ok($r, 500, 'internal_error', 'a hash of another key: an error');
like(error_log(), qr/\[crit\].*payment code hash of customer:$b5->{id} is not one of the key/,
     '... said in the error log');
is(redis_cli('GET', "cvc:strikes:payment_code:$b5->{id}"), '',
   '... not counted as a wrong code');

# ---- the key file -----------------------------------------------------------

my $conf = do {
    open my $fh, '<', "$ENV{CVC_TEST_DIR}/nginx.conf" or die; local $/; <$fh>
};
my $tmp = File::Temp->newdir('cvc-key-XXXXXX', TMPDIR => 1);
my $preload = '';
if ($ENV{SANITIZE}) {
    $preload = 'LD_PRELOAD=' . (`gcc -print-file-name=libasan.so` =~ s/\s+$//r)
               . ' ASAN_OPTIONS=detect_leaks=0 ';
}

# nginx_t($conf) -> (exit status, what nginx -t said)
sub nginx_t {
    my ($text) = @_;
    open my $fh, '>', "$tmp/nginx.conf" or die;
    print $fh $text;
    close $fh;
    my $out = `${preload}/usr/sbin/nginx -t -q -p $tmp/ -c $tmp/nginx.conf -e $tmp/error.log 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = nginx_t($conf =~ s{\n[^\n]*cvc_payment_code_key[^\n]*}{}r);
isnt($rc, 0, 'without cvc_payment_code_key nginx refuses to start');
like($out, qr/"cvc_payment_code_key" is not/, '... and says why');

($rc, $out) = nginx_t($conf =~ s{cvc_payment_code_key [^;]*;}{cvc_payment_code_key $tmp/none.key;}r);
isnt($rc, 0, 'with a key file that is not there: refused');
like($out, qr/cvc_payment_code_key: can't open "\Q$tmp\E\/none\.key"/, '... named');

open my $fh, '>', "$tmp/short.key" or die;
print $fh "0123456789abcdef\n";
close $fh;
($rc, $out) = nginx_t($conf =~ s{cvc_payment_code_key [^;]*;}{cvc_payment_code_key $tmp/short.key;}r);
isnt($rc, 0, 'with a key of 16 bytes: refused');
like($out, qr/must hold a key of 32 to 4096 bytes/, '... said so');
unlike($out, qr/0123456789abcdef/, '... without the key in the message');

($rc, $out) = nginx_t($conf);
is($rc, 0, 'with the stack\'s key file: nginx -t passes') or diag $out;

# a binary key is taken as it is: one of 32 bytes whose last is a line
# break (1 in 128 of `openssl rand -out FILE 32`) was cut and refused
for my $last ("\n", "\r") {
    open $fh, '>:raw', "$tmp/binary.key" or die;
    print $fh "\x00\xff" x 15, "\x01", $last;
    close $fh;
    ($rc, $out) = nginx_t($conf =~ s{cvc_payment_code_key [^;]*;}{cvc_payment_code_key $tmp/binary.key;}r);
    is($rc, 0, 'a binary key of 32 bytes ending in ' . ($last eq "\n" ? '\n' : '\r')
               . ': taken whole') or diag $out;
}
# a key in hex, written with a newline: the text without it
open $fh, '>', "$tmp/hex.key" or die;
print $fh 'ab' x 32, "\n";
close $fh;
($rc, $out) = nginx_t($conf =~ s{cvc_payment_code_key [^;]*;}{cvc_payment_code_key $tmp/hex.key;}r);
is($rc, 0, 'a key in hex with its newline: taken') or diag $out;

done_testing();
