# E-mail addresses are bounded in bytes, not characters (RFC 5321: 254
# octets) and are ASCII: the relay is not asked for SMTPUTF8. A long UTF-8
# address was once accepted (171 characters, 331 bytes) and its e-mail
# carried neighbouring stack memory in its To: line. Now: such an address
# is refused at the door with the contract's 422; the longest valid one
# (254 bytes) is sent whole, in the envelope and the To: line; and a row
# written before the rule (or by hand) is not sent at all.
use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use CvcTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);
client_ip('198.51.100.36');

my $conv = new_convention();
my $pos = new_pos($conv);
my $ben = new_beneficiary(balance => 10_000);
my $m = merchant_login($pos->{id}, $pos->{password});
my $c = customer_login($ben->{id}, $ben->{password});

my $long_utf8 = ('é' x 160) . '@example.fr';      # 171 characters, 331 bytes

sub requests_of_pos {
    return psql("select count(*) from cvc.payment_requests "
                . "where point_of_sale_id = '$pos->{id}'");
}

# ---- refused at the door --------------------------------------------------

for my $case (["160 × é", $long_utf8],
              ['one é', 'jé@example.fr'],
              ['255 bytes', ('a' x 64) . '@' . ('b' x 63) . '.' . ('c' x 63)
                            . '.' . ('d' x 59) . '.fr'])
{
    my ($what, $addr) = @$case;
    my $r = create_request($m->{token},
                           { mode => 'immediate', amount => 1000,
                             basket_number => unique_basket(),
                             customer => $ben->{id}, notify_email => $addr });
    error_ok($r, 422, 'validation_failed', "notify_email of $what");
    fields_are($r, ['notify_email'], "notify_email of $what");
}
like(create_request($m->{token},
                    { mode => 'immediate', amount => 1000,
                      basket_number => unique_basket(),
                      customer => $ben->{id}, notify_email => $long_utf8 })
     ->{json}{error}{fields}{notify_email} // '',
     qr/ASCII.*254 bytes/, 'the error says ASCII and 254 bytes');
is(requests_of_pos(), 0, 'no request was written');

my $r = ops(POST => '/ops/v1/beneficiaries',
            { email => $long_utf8, password => new_password(),
              payment_code => '135790' }, xff());
error_ok($r, 422, 'validation_failed', 'a beneficiary with a long UTF-8 address');
fields_are($r, ['email'], 'a beneficiary with a long UTF-8 address');

# ---- the longest address, sent whole --------------------------------------

my $tag = unique_digits(8);
my $addr = ('m' x 56) . $tag . '@' . ('b' x 63) . '.' . ('c' x 63) . '.'
           . ('d' x 58) . '.fr';
is(length $addr, 254, 'an address of 254 bytes');

my $pr = new_request($m->{token}, customer => $ben->{id}, amount => 1000,
                     notify_email => $addr);
is($pr->{notify_email}, $addr, 'accepted, as it was given');
is(api_as($c->{token}, POST => "/api/v1/customer/payment-requests/$pr->{id}/refuse")
   ->{status}, 200, 'the customer refuses it');

my @mail = wait_mails($addr, 1, 8);
is(scalar @mail, 1, 'the merchant\'s e-mail reached the relay for the whole '
                    . 'address (the envelope recipient)');
if (@mail) {
    is($mail[0]{raw_headers}{to}, "<$addr>", 'its To: line is the address, '
                                              . 'nothing more');
    my ($to_line) = $mail[0]{raw} =~ /^(To:[^\r\n]*)/m;
    is(length($to_line // ''), length("To: <$addr>"), 'the To: line\'s length');
    like($mail[0]{subject} // '', qr/refus/i, 'the refusal');
}

# ---- a row from before the rule is not sent -------------------------------

my $bad = ('ü' x 160) . '@example.fr';
psql("select cvc.email(" . sql_quote($bad) . ", 'account_locked', "
     . "jsonb_build_object('account', 'customer:$ben->{id}', "
     . "'login', '$ben->{id}', 'name', 'x', 'at', cvc.now()))");
my $id = psql("select max(id) from cvc.outbox where recipient = "
              . sql_quote($bad));
ok(wait_until(8, sub {
       psql("select attempts > 0 and last_error is not null from cvc.outbox "
            . "where id = $id") eq 't' }),
   'an old row with a long UTF-8 recipient was tried');
is(psql("select sent_at is null from cvc.outbox where id = $id"), 't',
   'and not sent');
is(psql("select last_error from cvc.outbox where id = $id"),
   'the recipient is not a valid address', 'with the reason in last_error');
opendir my $dh, mail_dir() or die;
my @odd = grep { /\xc3|_{20}/ } readdir $dh;
is(scalar @odd, 0, 'nothing reached the relay for it');

unlike(error_log(), qr/AddressSanitizer|runtime error/, 'no sanitizer report');

done_testing();
