package Cvc::Accounts;

# The accounts a test makes and logs in with: conventions, points of sale
# and beneficiaries through the ops API, merchant and customer logins and
# their session cookies, API keys; unique values, passwords (right and
# wrong), payment codes; and the secrets file that t/190 looks for in the
# logs.
#
#   my $c = new_convention();           # {id, name, email, password}
#   my $p = new_pos($c, category => 'restaurants');
#   my $b = new_beneficiary(balance => 5000);
#   my $s = merchant_login($c->{id}, $c->{password});   # the 201's JSON
#   my $k = new_api_key($s->{token}, $p->{id});
#   wrong_password();  wrong_code($b->{payment_code});  unique_digits(8);
#   remember_secret($password, 'password');   # checked by t/190

use strict;
use warnings;
use Exporter 'import';
use Digest::MD5 qw(md5_hex);
use Time::HiRes ();
use Cvc::Stack qw(test_env);
use Cvc::Http qw(ops call api_as xff must);

our @EXPORT = qw(unique_digits unique_email new_password wrong_password
                 wrong_code remember_secret secrets new_convention new_pos
                 new_beneficiary session_cookie merchant_login
                 merchant_login_r customer_login customer_login_r
                 new_api_key);

# unique_digits($n) -> $n random digits (first one not 0), seeded with
# time, pid and rand so that test files don't pick the same values
my $counter = 0;
sub unique_digits {
    my ($n) = @_;
    my $seed = join ':', Time::HiRes::time(), $$, rand(), ++$counter;
    my $out = '';
    while (length $out < $n) {
        $seed = md5_hex($seed);
        $out .= join '', grep { /\d/ } split //, $seed;
        $out =~ s/^0+//;
    }
    return substr $out, 0, $n;
}

sub unique_email {
    my ($tag) = @_;
    return lc(($tag // 't') . '-' . unique_digits(10)) . '@example.fr';
}

# remember_secret($secret, $kind): appends to $CVC_TEST_DIR/secrets.txt
# ("kind<TAB>secret" lines) for t/190 to look for in the logs. Kinds:
# password, token, reset_token, api_key, webhook_secret, payment_code.
sub remember_secret {
    my ($secret, $kind) = @_;
    return $secret unless defined $secret && length $secret;
    $kind //= 'secret';
    die "a secret with a newline" if $secret =~ /[\r\n\t]/;
    my $file = test_env('CVC_TEST_DIR') . '/secrets.txt';
    open my $fh, '>>', $file or die "$file: $!";
    syswrite $fh, "$kind\t$secret\n";
    close $fh;
    return $secret;
}

# secrets() -> ([kind, secret], ...) remembered so far in this run
sub secrets {
    my $file = test_env('CVC_TEST_DIR') . '/secrets.txt';
    open my $fh, '<', $file or return ();
    my @out;
    while (my $line = <$fh>) {
        chomp $line;
        my ($kind, $secret) = split /\t/, $line, 2;
        push @out, [$kind, $secret] if defined $secret;
    }
    return @out;
}

# a fresh valid password (12..128 characters), remembered
sub new_password {
    return remember_secret('Pw-' . unique_digits(10) . '-sEcret!', 'password');
}

# a password that is nobody's
sub wrong_password { 'Wrong-' . unique_digits(8) . '-password' }

# wrong_code($right) -> a 6-digit payment code, never the right one
sub wrong_code {
    my ($right) = @_;
    my $c;
    do { $c = unique_digits(6) } while $c eq $right;
    return $c;
}

# new_convention(%opts) -> {id, name, email, password}; dies unless 201
sub new_convention {
    my (%o) = @_;
    my %body = (name => $o{name} // 'Convention ' . unique_digits(4),
                email => $o{email} // unique_email('conv'),
                password => $o{password} // new_password());
    remember_secret($body{password}, 'password');
    $body{id} = $o{id} if defined $o{id};
    my $r = must(ops(POST => '/ops/v1/conventions', \%body, xff()), 201,
                 'POST /ops/v1/conventions');
    return { %body, id => $r->{json}{id} };
}

# new_pos($convention (hash or id), %opts) -> {id, convention, name, email,
# password, category}; dies unless 201
sub new_pos {
    my ($conv, %o) = @_;
    my $cid = ref $conv ? $conv->{id} : $conv;
    my %body = (convention => $cid,
                name => $o{name} // 'Point ' . unique_digits(4),
                email => $o{email} // unique_email('pos'),
                password => $o{password} // new_password(),
                category => $o{category} // 'accommodation');
    remember_secret($body{password}, 'password');
    $body{id} = $o{id} if defined $o{id};
    my $r = must(ops(POST => '/ops/v1/points-of-sale', \%body, xff()), 201,
                 'POST /ops/v1/points-of-sale');
    return { %body, id => $r->{json}{id} };
}

# new_beneficiary(%opts) -> {id, email, password, payment_code, balance}
sub new_beneficiary {
    my (%o) = @_;
    my %body = (email => $o{email} // unique_email('benef'),
                password => $o{password} // new_password(),
                payment_code => $o{payment_code} // unique_digits(6));
    remember_secret($body{password}, 'password');
    remember_secret($body{payment_code}, 'payment_code');
    $body{id} = $o{id} if defined $o{id};
    $body{balance} = $o{balance} if defined $o{balance};
    my $r = must(ops(POST => '/ops/v1/beneficiaries', \%body, xff()), 201,
                 'POST /ops/v1/beneficiaries');
    return { %body, balance => $o{balance} // 0, id => $r->{json}{id} };
}

# session_cookie($response) -> the cvc_session cookie's value, or undef
sub session_cookie {
    my ($r) = @_;
    my $h = $r->{headers}{'set-cookie'} // return undef;
    for my $c (ref $h ? @$h : ($h)) {
        return $1 if $c =~ /^(?:__Host-)?cvc_(?:customer_)?session=([^;]*)/;
    }
    return undef;
}

sub _remember_session {
    my ($r) = @_;
    if (my $j = $r->{json}) {
        remember_secret($j->{token}, 'token');
        remember_secret($j->{csrf_token}, 'token');
    }
    remember_secret(session_cookie($r), 'token');
    return $r;
}

# merchant_login_r($login, $password, %headers) -> the response
sub merchant_login_r {
    my ($login, $password, %h) = @_;
    remember_secret($password, 'password');
    return _remember_session(call(POST => '/api/v1/merchant/sessions',
                                  { login => $login, password => $password },
                                  %h));
}

# merchant_login(...) -> the 201's JSON, plus "_cookie"; dies otherwise
sub merchant_login {
    my $r = must(merchant_login_r(@_), 201, 'POST /api/v1/merchant/sessions');
    return { %{ $r->{json} }, _cookie => session_cookie($r) };
}

sub customer_login_r {
    my ($login, $password, %h) = @_;
    remember_secret($password, 'password');
    return _remember_session(call(POST => '/api/v1/customer/sessions',
                                  { login => $login, password => $password },
                                  %h));
}

sub customer_login {
    my $r = must(customer_login_r(@_), 201, 'POST /api/v1/customer/sessions');
    return { %{ $r->{json} }, _cookie => session_cookie($r) };
}

# new_api_key($token, $pos_id) -> the secret of a new API key (and its id
# in list context)
sub new_api_key {
    my ($token, $pos) = @_;
    my $r = must(api_as($token, POST => "/api/v1/points-of-sale/$pos/api-keys",
                        { name => 'Site ' . unique_digits(4) }), 201,
                 'POST api-keys');
    remember_secret($r->{json}{secret}, 'api_key');
    return wantarray ? ($r->{json}{secret}, $r->{json}{id})
                     : $r->{json}{secret};
}

1;
