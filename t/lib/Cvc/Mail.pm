package Cvc::Mail;

# What the gateway sends out: the outbox's rows (e-mails and webhooks
# waiting or sent), and the e-mails that scripts/smtp-sink kept in
# $CVC_TEST_DIR/mail, parsed (MIME parts, RFC 2047 headers decoded).
#
#   my $rows = outbox(recipient => 'client@example.fr', template => ...);
#   my @m = mails('client@example.fr');   # what the SMTP server kept for
#       # this recipient, oldest first: {file, headers => {lc name => value
#       # (RFC 2047 decoded)}, subject, text, html (decoded, characters),
#       # parts => [{type, encoding, charset}], raw}
#   my @m = wait_mails('client@example.fr', 2, 5);   # at least 2, 5 s

use strict;
use warnings;
use Exporter 'import';
use Digest::MD5 qw(md5_hex);
use Encode ();
use MIME::Base64 ();
use MIME::QuotedPrint ();
use Cvc::Stack qw(test_env psql_json sql_quote);
use Cvc::Http qw(wait_until);

our @EXPORT = qw(outbox mail_dir mails wait_mails parse_mail);

# outbox(recipient => ..., template => ...) -> rows, oldest first
sub outbox {
    my (%w) = @_;
    my $where = join ' and ', 'true',
        map { "$_ = " . sql_quote($w{$_}) } sort keys %w;
    return psql_json("select id, kind, recipient, template, payload, "
                     . "created_at from cvc.outbox where $where order by id");
}

sub mail_dir { return test_env('CVC_TEST_DIR') . '/mail' }

# RFC 2047 encoded words (B and Q) in a header's value -> characters
sub _decode_words {
    my ($v) = @_;
    $v =~ s/\?=\s+=\?/?==?/g;            # whitespace between two words goes
    $v =~ s{=\?([^?]+)\?([BbQq])\?([^?]*)\?=}{
        my ($cs, $enc, $data) = ($1, uc $2, $3);
        my $bytes;
        if ($enc eq 'B') {
            $bytes = MIME::Base64::decode_base64($data);
        } else {
            ($bytes = $data) =~ tr/_/ /;
            $bytes =~ s/=([0-9A-Fa-f]{2})/chr hex $1/ge;
        }
        my $s = eval { Encode::decode($cs, $bytes, Encode::FB_CROAK) };
        defined $s ? $s : "\x{FFFD}";
    }ge;
    return $v;
}

# (headers hash, body) of a MIME entity
sub _split_entity {
    my ($raw) = @_;
    my ($head, $body) = split /\r?\n\r?\n/, $raw, 2;
    $head =~ s/\r?\n[ \t]+/ /g;           # unfolded
    my %h;
    for my $line (split /\r?\n/, $head) {
        my ($k, $v) = $line =~ /^([^:\s]+):\s*(.*?)\s*\z/ or next;
        $h{lc $k} //= $v;
    }
    return (\%h, $body // '');
}

sub _param {
    my ($value, $name) = @_;
    return $1 if ($value // '') =~ /;\s*\Q$name\E="([^"]*)"/i;
    return $1 if ($value // '') =~ /;\s*\Q$name\E=([^;\s]+)/i;
    return undef;
}

sub _walk {
    my ($raw, $out) = @_;
    my ($h, $body) = _split_entity($raw);
    my $type = lc(($h->{'content-type'} // 'text/plain') =~ s/;.*//sr);
    if ($type =~ m{^multipart/}) {
        my $b = _param($h->{'content-type'}, 'boundary') // return;
        my @parts = split /^--\Q$b\E(?:--)?[ \t]*\r?$/m, $body;
        shift @parts;                     # the preamble
        pop @parts if @parts && $parts[-1] !~ /\S/;
        for my $p (@parts) {
            $p =~ s/\A\r?\n//;
            _walk($p, $out) if $p =~ /\S/;
        }
        return;
    }
    my $enc = lc($h->{'content-transfer-encoding'} // '7bit');
    my $bytes = $enc eq 'quoted-printable' ? MIME::QuotedPrint::decode_qp($body)
              : $enc eq 'base64' ? MIME::Base64::decode_base64($body)
              : $body;
    my $cs = _param($h->{'content-type'}, 'charset') // 'us-ascii';
    my $text = eval { Encode::decode($cs, $bytes, Encode::FB_CROAK) }
               // "\x{FFFD}";
    push @{ $out->{parts} }, { type => $type, encoding => $enc,
                               charset => lc $cs };
    $out->{text} //= $text if $type eq 'text/plain';
    $out->{html} //= $text if $type eq 'text/html';
}

# parse_mail($raw) -> {headers, subject, text, html, parts, raw}
sub parse_mail {
    my ($raw) = @_;
    my ($h) = _split_entity($raw);
    my %dec = map { $_ => _decode_words($h->{$_}) } keys %$h;
    my $m = { headers => \%dec, raw_headers => $h, subject => $dec{subject},
              parts => [], raw => $raw };
    _walk($raw, $m);
    return $m;
}

# mails($recipient) -> the messages kept for that recipient, oldest first
sub mails {
    my ($rcpt) = @_;
    (my $name = $rcpt) =~ s/[^A-Za-z0-9@._+-]/_/g;
    $name = substr($name, 0, 150) . '~' . substr(md5_hex($rcpt), 0, 12)
        if length $name > 150;               # as scripts/smtp-sink names it
    opendir my $dh, mail_dir() or return ();
    my @files = sort grep { /^\d{8}-\d{6}-\d{6}-\Q$name\E\.eml\z/ } readdir $dh;
    closedir $dh;
    my @out;
    for my $f (@files) {
        open my $fh, '<:raw', mail_dir() . "/$f" or next;
        local $/;
        my $m = parse_mail(scalar <$fh>);
        $m->{file} = $f;
        push @out, $m;
    }
    return @out;
}

# wait_mails($recipient, $n, $seconds) -> the messages once there are $n
# (what there is when the time is up)
sub wait_mails {
    my ($rcpt, $n, $seconds) = @_;
    my @m;
    wait_until($seconds // 5, sub { @m = mails($rcpt); @m >= $n });
    return @m;
}

1;
