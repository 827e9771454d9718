# E-mails over real SMTP (scripts/smtp-sink keeps each message in
# $CVC_TEST_DIR/mail): one message for each case of the contract, in
# French, plain text and HTML, with the amount as "40,00 €", the basket
# number, the merchant's name and the dates in French; the subject encoded
# as RFC 2047, the body quoted-printable. Then the SMTP server goes away:
# nothing is lost, the outbox row waits with its error, and the message
# arrives once, and only once, when the server is back and the back-off
# has passed.
use strict;
use warnings;
use utf8;
use Test::More;
use Encode ();
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('198.51.100.31');

my $shop = 'Hôtel Belle Époque & Spa';
my $conv = new_convention(name => 'Groupe Belle Époque');
my $pos = new_pos($conv, name => $shop);
my $ben = new_beneficiary(balance => 100_000);
my $notify = unique_email('notif');
my $EUR = qr/40,00[\x{a0}\x{202f} ]€/;

my ($m, $c);
keep_logged_in(\$m => $pos, \$c => $ben);   # at() logs them in again
sub req {
    new_request($m->{token}, customer => $ben->{id}, amount => 4000,
                notify_email => $notify, @_);
}
sub pay { pay_request($c->{token}, $_[0], $ben->{payment_code}) }
sub act { api_as($m->{token}, POST => "/api/v1/payment-requests/$_[0]/$_[1]") }

# new_mail($recipient, $count_before, $what): the one message that came
# after the first $count_before (waits for it; then checks no second one)
sub new_mail {
    my ($rcpt, $before, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @all = wait_mails($rcpt, $before + 1, 6);
    Time::HiRes::sleep(0.3);
    @all = mails($rcpt);
    is(scalar @all - $before, 1, "$what: one e-mail to $rcpt");
    return $all[$before];
}

my @long_words;          # encoded words over 75 characters, checked at the end

# mail_ok($mail, $recipient, $what, qr/.../, ...): the form of every
# message, and what its text must say
sub mail_ok {
    my ($mail, $rcpt, $what, @says) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok($mail, "$what: there is an e-mail") or return;
    my $h = $mail->{headers};
    like($h->{to} // '', qr/<?\Q$rcpt\E>?/i, "$what: To: the recipient");
    like($h->{from} // '', qr/\@/, "$what: a From address");
    ok(defined $h->{date} && defined $h->{'message-id'},
       "$what: Date and Message-ID");
    my $raw_subject = $mail->{raw_headers}{subject} // '';
    like($raw_subject, qr/^=\?UTF-8\?[BQ]\?/i,
         "$what: the subject is RFC 2047 encoded UTF-8");
    push @long_words, "$what: " . length($_)
        for grep { length > 75 } $raw_subject =~ /(=\?[^?]+\?[BQbq]\?[^?]*\?=)/g;
    unlike($mail->{raw}, qr/[^\x00-\x7f]/, "$what: 7-bit clean on the wire");
    ok(!grep({ length > 998 } split /\r?\n/, $mail->{raw}),
       "$what: no line over 998 characters");
    my ($plain) = grep { $_->{type} eq 'text/plain' } @{ $mail->{parts} };
    my ($html) = grep { $_->{type} eq 'text/html' } @{ $mail->{parts} };
    ok($plain && $html, "$what: plain text and HTML");
    is($plain && $plain->{encoding}, 'quoted-printable',
       "$what: the text is quoted-printable");
    is($plain && $plain->{charset}, 'utf-8', "$what: in UTF-8");
    my $text = $mail->{text} // '';
    for my $re (@says) {
        like($text, $re, "$what: the text says $re");
    }
    my $flat = ($mail->{html} // '') =~ s/<[^>]*>/ /gr;
    $flat =~ s/&amp;/&/g;
    like($flat, qr/\Q$_\E/, "$what: the HTML says it too")
        for grep { defined } ($text =~ /($EUR)/)[0];
    return $text;
}

# ---- the customer: a new request to pay; the merchant: paid, refused ---------------

at('2026-07-09T08:00:00Z');                 # Thursday, 10:00 in Paris
my $n = () = mails($ben->{email});
my $p1 = req();
my $mail = new_mail($ben->{email}, $n, 'a new request to pay');
mail_ok($mail, $ben->{email}, 'a new request to pay', $EUR,
        qr/\Q$p1->{basket_number}\E/, qr/\Q$shop\E/,
        qr{09/07/2026|9 juillet 2026}, qr/10\s?h\s?15|10:15/);
like($mail->{subject} // '', qr/\Q$shop\E/, '... the subject names the merchant');
like($mail->{subject} // '', $EUR, '... and the amount');
like($mail->{html} // '', qr/Belle Époque &amp; Spa/,
     '... the HTML escapes the merchant\'s name');
unlike($mail->{html} // '', qr/Époque & Spa/, '... never raw');

is(pay($p1->{id})->{status}, 200, 'the customer pays');
$mail = new_mail($notify, 0, 'paid');
mail_ok($mail, $notify, 'the merchant: paid', $EUR,
        qr/\Q$p1->{basket_number}\E/);
like(($mail->{subject} // '') . ($mail->{text} // ''), qr/pay|reçu/i,
     '... saying it was paid');

my $p2 = req();
is(api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$p2->{id}/refuse")
   ->{status}, 200, 'the customer refuses another');
$mail = new_mail($notify, 1, 'refused');
mail_ok($mail, $notify, 'the merchant: refused', $EUR,
        qr/\Q$p2->{basket_number}\E/);
like(($mail->{subject} // '') . ($mail->{text} // ''), qr/refus/i,
     '... saying it was refused');

# ---- reservations: confirmed, cancelled (re-credited), and one left to run --------

my $p3 = req();                             # left to expire
my ($p4, $p5, $p6) = map { req(validation_delay_days => 1,
                               on_validation_expiry => 'cancel') } 1 .. 3;
is(pay($_->{id})->{json}{status}, 'to_validate', 'a pre-reservation paid')
    for $p4, $p5, $p6;
$mail = (wait_mails($notify, 5, 6))[-1];
like($mail->{text} // '', qr{10/07/2026|10 juillet 2026},
     'the merchant\'s e-mail of a paid pre-reservation gives the deadline');

$n = () = mails($ben->{email});
is(act($p4->{id}, 'confirm')->{status}, 200, 'the merchant confirms one');
$mail = new_mail($ben->{email}, $n, 'confirmed');
mail_ok($mail, $ben->{email}, 'the customer: reservation confirmed', $EUR,
        qr/\Q$p4->{basket_number}\E/, qr/\Q$shop\E/, qr/confirm/i);

is(act($p5->{id}, 'cancel')->{status}, 200, 'the merchant cancels one');
$mail = new_mail($ben->{email}, $n + 1, 'cancelled');
mail_ok($mail, $ben->{email}, 'the customer: reservation cancelled', $EUR,
        qr/\Q$p5->{basket_number}\E/, qr/\Q$shop\E/, qr/annul/i,
        qr/re-?crédit|rembours/i);

# ---- time passes: expired, reminder, reservation expired ---------------------------

at('2026-07-09T08:16:00Z');
ok(wait_status($m->{token}, $p3->{id}, 'expired', 5), 'the unpaid request expires');
$mail = new_mail($notify, 5, 'expired');
mail_ok($mail, $notify, 'the merchant: expired', $EUR,
        qr/\Q$p3->{basket_number}\E/, qr/expir/i);

at('2026-07-09T22:00:00Z');                 # the deadline (10 July) - 24 h
$mail = new_mail($notify, 6, 'reminder');
mail_ok($mail, $notify, 'the merchant: the reminder', $EUR,
        qr/\Q$p6->{basket_number}\E/, qr{10/07/2026|10 juillet 2026},
        qr/23\s?h\s?59|23:59/);

$n = () = mails($ben->{email});
at('2026-07-10T22:00:00Z');                 # past the deadline
ok(wait_status($m->{token}, $p6->{id}, 'expired', 5), 'the reservation expires');
$mail = new_mail($ben->{email}, $n, 'reservation expired');
mail_ok($mail, $ben->{email}, 'the customer: reservation expired', $EUR,
        qr/\Q$p6->{basket_number}\E/, qr/\Q$shop\E/, qr/re-?crédit|rembours/i);
like(($mail->{subject} // '') . ' ' . ($mail->{text} // ''), qr/expir/i,
     '... saying it expired');
$mail = new_mail($notify, 7, 'expired reservation');
like($mail->{text} // '', qr/\Q$p6->{basket_number}\E/,
     'the merchant is told the reservation expired');

# the same, in the app: the customer's notifications, newest first
my $nr = api_as($c->{token}, GET => '/api/v1/customer/notifications?limit=100');
is($nr->{status}, 200, 'the customer\'s notifications');
my @notes = @{ $nr->{json}{data} // [] };
my %note;
push @{ $note{$_->{payment_request} // ''} }, $_->{type} for reverse @notes;
is_deeply($note{$p1->{id}}, [qw(payment_request_created payment_received)],
          '... a new request, then the payment');
is_deeply($note{$p4->{id}}, [qw(payment_request_created payment_received
                                reservation_confirmed)], '... a confirmation');
is_deeply($note{$p5->{id}}, [qw(payment_request_created payment_received
                                reservation_cancelled)], '... a cancellation');
is_deeply($note{$p6->{id}}, [qw(payment_request_created payment_received
                                reservation_expired)], '... an expiry');
is_deeply($note{$p3->{id}}, [qw(payment_request_created payment_request_expired)],
          '... an unpaid request that expired');
my ($cancel) = grep { $_->{type} eq 'reservation_cancelled'
                      && ($_->{payment_request} // '') eq $p5->{id} } @notes;
is($cancel && $cancel->{amount}, 4000, '... the cancellation with the amount re-credited');
like($cancel && $cancel->{message} // '', $EUR, '... in French: 40,00 €');
my @at = map { $_->{created_at} } @notes;
is_deeply(\@at, [sort { $b cmp $a } @at], '... newest first');

# ---- accounts: locked, then the password reset link ---------------------------------

my $pos2 = new_pos($conv, name => 'Spa Belle Époque');
merchant_login_r($pos2->{id}, 'not the password ' . $_) for 1 .. 3;
is(merchant_login_r($pos2->{id}, $pos2->{password})->{status}, 423,
   'a point of sale locked by 3 wrong passwords');
$mail = new_mail($pos2->{email}, 0, 'locked');
mail_ok($mail, $pos2->{email}, 'the account: locked', qr/\Q$pos2->{id}\E/,
        qr/bloqu/i);

is(call(POST => '/api/v1/merchant/password-resets', { login => $pos2->{id} })
   ->{status}, 202, 'it asks for a password reset');
$mail = new_mail($pos2->{email}, 1, 'reset');
my $text = mail_ok($mail, $pos2->{email}, 'the account: password reset',
                   qr/mot de passe/i) // '';
my ($link) = $text =~ m{(\Q$ENV{CVC_TEST_URL}\E/reset-password\?token=\S+)};
ok($link, 'the e-mail has the link <public URL>/reset-password?token=…');
my ($token) = ($link // '') =~ /token=([^&#\s]+)/;
$token = remember_secret(($token // 'none') =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ger,
                         'reset_token');
my $newpw = new_password();
is(call(POST => '/api/v1/merchant/password-resets/confirm',
        { token => $token, password => $newpw })->{status}, 204,
   '... the link\'s token sets a new password');
is(merchant_login_r($pos2->{id}, $newpw)->{status}, 201,
   '... and the account is unlocked');

my $ben2 = new_beneficiary();
customer_login_r($ben2->{id}, 'not the password ' . $_) for 1 .. 3;
is(customer_login_r($ben2->{id}, $ben2->{password})->{status}, 423,
   'a customer locked by 3 wrong passwords');
$mail = new_mail($ben2->{email}, 0, 'customer locked');
mail_ok($mail, $ben2->{email}, 'the customer\'s account: locked', qr/bloqu/i);

# ---- a long name (255 characters, the most allowed) in a subject --------------------

my $long = substr('Résidence hôtelière « Les Écrins » à Sévérac-le-Château, '
                  x 6, 0, 255);
$long =~ s/\s+\z//;
my $pos3 = new_pos($conv, name => $long);
my $m3 = merchant_login($pos3->{id}, $pos3->{password});
$n = () = mails($ben->{email});
new_request($m3->{token}, customer => $ben->{id}, amount => 4000);
$mail = new_mail($ben->{email}, $n, 'long name');
like($mail->{subject} // '', qr/\Q$long\E.*$EUR/,
     'a 255-character name: the subject still has all of it and the amount');

is_deeply(\@long_words, [],
          'every subject: encoded words of at most 75 characters (RFC 2047, '
          . 'section 2: a long subject is split into several words)');

# ---- the SMTP server is down: nothing is lost, and nothing is sent twice -----------

my $ben3 = new_beneficiary();
at('2026-07-11T08:00:00Z');
stack('smtp-stop');
my $p7 = new_request($m->{token}, customer => $ben3->{id}, amount => 4000);
my $row;
ok(wait_until(6, sub {
       $row = psql_json("select sent_at, attempts, last_error, next_attempt_at, "
                        . "cvc.now() as now from cvc.outbox where recipient = "
                        . sql_quote($ben3->{email}))->[0];
       $row && $row->{attempts} >= 1 }),
   'SMTP down: the e-mail was tried');
is($row->{sent_at}, undef, '... not sent');
like($row->{last_error} // '', qr/\S/, '... with the error kept');
is(scalar(mails($ben3->{email})), 0, '... nothing arrived');
stack('smtp-start');
Time::HiRes::sleep(1);
is(scalar(mails($ben3->{email})), 0,
   'the server is back: not sent before the back-off has passed');
set_clock('2026-07-11T08:03:00Z');
my @got = wait_mails($ben3->{email}, 1, 8);
is(scalar @got, 1, 'past the back-off: the e-mail arrives');
like($got[0]{text} // '', qr/\Q$p7->{basket_number}\E/, '... the one that waited');
Time::HiRes::sleep(2.5);
is(scalar(mails($ben3->{email})), 1, '... once');
$row = psql_json("select sent_at, attempts from cvc.outbox where recipient = "
                 . sql_quote($ben3->{email}))->[0];
ok($row->{sent_at}, '... the outbox row is sent');
cmp_ok($row->{attempts}, '>=', 2, '... after more than one attempt');

done_testing;
