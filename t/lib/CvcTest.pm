package CvcTest;

# Helpers for the CVC gateway tests (core Perl only). scripts/run-tests
# starts the stack and sets CVC_TEST_URL, CVC_TEST_DIR, CVC_OPS_TOKEN,
# CVC_PG_PORT, CVC_REDIS_PORT and CVC_ROOT.
#
#   use lib 't/lib'; use CvcTest;
#   my $r = api(POST => '/api/x', { a => 1 });   # $r->{status}, {json}, {raw}, {headers}
#   my $o = ops(GET => '/ops/health');
#   my @res = parallel(10, sub { my $i = shift; api(GET => "/api/y/$i")->{status} });
#   stack('pg-stop');  psql('select 1');  redis_cli('ping');
#   wait_until(5, sub { ... });  error_log();  unique_digits(8);

use strict;
use warnings;
use Exporter 'import';
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use File::Temp ();
use Digest::MD5 qw(md5_hex);

our @EXPORT = qw(api ops parallel stack psql psql_super redis_cli wait_until
                 error_log unique_digits ping_during);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub _env {
    my ($name) = @_;
    defined $ENV{$name} or die "$name is not set: run the tests through scripts/run-tests\n";
    return $ENV{$name};
}

# api($method, $path, $body, %headers) -> {status, headers, raw, json}
# $body: undef, a hashref/arrayref (sent as JSON) or a string (sent as is).
sub api {
    my ($method, $path, $body, %headers) = @_;
    my %h = map { lc($_) => $headers{$_} } keys %headers;
    my %req = (headers => \%h);
    if (ref $body) {
        $req{content} = $JSON->encode($body);
        $h{'content-type'} //= 'application/json';
    } elsif (defined $body) {
        $req{content} = $body;
    }
    # a fresh client each time: no keep-alive sockets shared across fork()
    my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my $res = $http->request($method, _env('CVC_TEST_URL') . $path, \%req);
    my $raw = $res->{content} // '';
    my $json;
    if (length $raw) {
        $json = eval { $JSON->decode($raw) };
    }
    return { status => $res->{status}, headers => $res->{headers},
             raw => $raw, json => $json };
}

# ops($method, $path, $body) -> same as api(), with the ops bearer token
sub ops {
    my ($method, $path, $body, %headers) = @_;
    return api($method, $path, $body,
               Authorization => 'Bearer ' . _env('CVC_OPS_TOKEN'), %headers);
}

# parallel($n, sub { my $i = shift; ...; return $result }) -> @results
# Runs $n forked children at the same moment; each result must be
# JSON-serializable. Don't call Test::More functions in the children.
sub parallel {
    my ($n, $code) = @_;
    my $tmp = File::Temp->newdir('cvc-parallel-XXXXXX', TMPDIR => 1);
    pipe(my $go_r, my $go_w) or die "pipe: $!";
    my @pids;
    for my $i (0 .. $n - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $go_w;
            sysread $go_r, my $buf, 1;          # wait for the start signal
            my $json = eval { my $r = $code->($i); $JSON->encode({ ok => $r }) }
                // $JSON->encode({ error => "$@" || 'died' });
            if (open my $fh, '>', "$tmp/$i.json") {
                print $fh $json;
                close $fh;
            }
            POSIX::_exit(0);                    # no END blocks, no Test::More
        }
        push @pids, $pid;
    }
    close $go_r;
    close $go_w;                                # go!
    waitpid $_, 0 for @pids;
    my (@results, @errors);
    for my $i (0 .. $n - 1) {
        my $out = { error => "child $i left no result" };
        if (open my $fh, '<', "$tmp/$i.json") {
            local $/;
            $out = $JSON->decode(<$fh>);
        }
        push @errors, "child $i: $out->{error}" if exists $out->{error};
        push @results, $out->{ok};
    }
    die "parallel: @errors" if @errors;
    return @results;
}

# run a command with its stdout sent to stderr (keeps the TAP stream clean)
sub _run_quiet {
    my @cmd = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>&', \*STDERR;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

# stack('pg-stop') etc.: scripts/stack SUBCOMMAND on the test stack
sub stack {
    my ($sub) = @_;
    my @cmd = (_env('CVC_ROOT') . '/scripts/stack', $sub, _env('CVC_TEST_DIR'));
    _run_quiet(@cmd) == 0 or die "@cmd failed\n";
    return 1;
}

# _psql_as($role, $sql) -> output (-XAtq) of $sql run as $role; dies on
# error
sub _psql_as {
    my ($role, $sql) = @_;
    my @cmd = ('psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
               '-p', _env('CVC_PG_PORT'), '-U', $role, '-d', 'cvc',
               '-c', $sql);
    open my $fh, '-|', @cmd or die "psql: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "psql failed (status $?) on: $sql\n";
    $out =~ s/\n\z//;                       # chomp ($/ is undef here)
    return $out;
}

# psql($sql): as role cvc_owner, which owns the tables (the gateway's role
# cvc may not read them)
sub psql { return _psql_as('cvc_owner', @_) }

# psql_super($sql): as the cluster's superuser postgres, for what no role
# of the gateway may see or do (another role's backends in
# pg_stat_activity, a role's settings)
sub psql_super { return _psql_as('postgres', @_) }

# redis_cli(@args) -> output (chomped)
sub redis_cli {
    my @args = @_;
    open my $fh, '-|', 'redis-cli', '-p', _env('CVC_REDIS_PORT'), @args
        or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\n\z//;                       # chomp ($/ is undef here)
    return $out;
}

# wait_until($seconds, sub { ... }) -> true as soon as the sub returns true
sub wait_until {
    my ($seconds, $code) = @_;
    my $end = Time::HiRes::time() + $seconds;
    while (1) {
        return 1 if $code->();
        return 0 if Time::HiRes::time() >= $end;
        Time::HiRes::sleep(0.1);
    }
}

# error_log() -> the text of nginx's error log
sub error_log {
    my $file = _env('CVC_TEST_DIR') . '/logs/error.log';
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

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

# ---------------------------------------------------------------------
# Accounts, sessions and their checks (issue 3).
#
#   client_ip('192.0.2.110');           # X-Forwarded-For of this file's calls
#   my $c = new_convention();           # {id, name, email, password}
#   my $p = new_pos($c, category => 'restaurants');
#   my $b = new_beneficiary(balance => 5000);
#   my $s = merchant_login($c->{id}, $c->{password});   # the 201's JSON
#   my $r = api_as($s->{token}, GET => '/api/v1/merchant/me');
#   error_ok($r, 422, 'validation_failed', 'bad name');
#   set_clock('2026-06-24T09:33:00Z'); ... reset_clock();
#   remember_secret($password, 'password');   # checked by t/190

use Time::Local ();

push @CvcTest::EXPORT, qw(client_ip xff call api_as auth_header remember_secret
                     secrets new_password unique_email new_convention new_pos
                     new_beneficiary merchant_login merchant_login_r
                     customer_login customer_login_r session_cookie
                     set_clock reset_clock psql_json sql_quote outbox
                     audit_rows access_log error_ok fields_are epoch_of
                     is_utc_time);

our $CLIENT_IP;

# client_ip($ip): the X-Forwarded-For that call(), api_as() and the
# account helpers send from now on (realip trusts loopback)
sub client_ip {
    $CLIENT_IP = shift if @_;
    return $CLIENT_IP;
}

sub xff { defined $CLIENT_IP ? ('X-Forwarded-For' => $CLIENT_IP) : () }

sub auth_header { my ($token) = @_; return (Authorization => "Bearer $token") }

# call(...): api() from this file's client address
sub call {
    my ($method, $path, $body, %headers) = @_;
    return api($method, $path, $body, xff(), %headers);
}

# api_as($token, $method, $path, $body, %headers): with a bearer token
sub api_as {
    my ($token, $method, $path, $body, %headers) = @_;
    return api($method, $path, $body, xff(), auth_header($token), %headers);
}

# remember_secret($secret, $kind): appends to $CVC_TEST_DIR/secrets.txt
# ("kind<TAB>secret" lines) for t/190 to look for in the logs. Kinds:
# password, token, reset_token, api_key, webhook_secret, payment_code.
sub remember_secret {
    my ($secret, $kind) = @_;
    return $secret unless defined $secret && length $secret;
    $kind //= 'secret';
    die "a secret with a newline" if $secret =~ /[\r\n\t]/;
    my $file = _env('CVC_TEST_DIR') . '/secrets.txt';
    open my $fh, '>>', $file or die "$file: $!";
    syswrite $fh, "$kind\t$secret\n";
    close $fh;
    return $secret;
}

# secrets() -> ([kind, secret], ...) remembered so far in this run
sub secrets {
    my $file = _env('CVC_TEST_DIR') . '/secrets.txt';
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

sub unique_email {
    my ($tag) = @_;
    return lc(($tag // 't') . '-' . unique_digits(10)) . '@example.fr';
}

sub _must {
    my ($r, $status, $what) = @_;
    return $r if $r->{status} == $status;
    die "$what: expected $status, got $r->{status} $r->{raw}\n";
}

# new_convention(%opts) -> {id, name, email, password}; dies unless 201
sub new_convention {
    my (%o) = @_;
    my %body = (name => $o{name} // 'Convention ' . unique_digits(4),
                email => $o{email} // unique_email('conv'),
                password => $o{password} // new_password());
    remember_secret($body{password}, 'password');
    $body{id} = $o{id} if defined $o{id};
    my $r = _must(ops(POST => '/ops/v1/conventions', \%body, xff()), 201,
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
    my $r = _must(ops(POST => '/ops/v1/points-of-sale', \%body, xff()), 201,
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
    my $r = _must(ops(POST => '/ops/v1/beneficiaries', \%body, xff()), 201,
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
    my $r = _must(merchant_login_r(@_), 201, 'POST /api/v1/merchant/sessions');
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
    my $r = _must(customer_login_r(@_), 201, 'POST /api/v1/customer/sessions');
    return { %{ $r->{json} }, _cookie => session_cookie($r) };
}

# set_clock('2026-06-24T09:33:00Z') / reset_clock(): the test clock
sub set_clock {
    my ($now) = @_;
    return _must(ops(PUT => '/ops/v1/clock', { now => $now }), 200,
                 "PUT /ops/v1/clock $now")->{json};
}

sub reset_clock {
    return ops(DELETE => '/ops/v1/clock')->{status};
}

sub sql_quote {
    my ($s) = @_;
    return 'null' unless defined $s;
    $s =~ s/'/''/g;
    return "'$s'";
}

# psql_json($select) -> the rows of the select, as an array of hashes
sub psql_json {
    my ($sql) = @_;
    my $out = psql("select coalesce(json_agg(t), '[]') from ($sql) t");
    return $JSON->decode($out);
}

# outbox(recipient => ..., template => ...) -> rows, oldest first
sub outbox {
    my (%w) = @_;
    my $where = join ' and ', 'true',
        map { "$_ = " . sql_quote($w{$_}) } sort keys %w;
    return psql_json("select id, kind, recipient, template, payload, "
                     . "created_at from cvc.outbox where $where order by id");
}

# audit_rows(event => ..., account => ..., request_id => ...) -> rows
sub audit_rows {
    my (%w) = @_;
    my $where = join ' and ', 'true',
        map { "$_ = " . sql_quote($w{$_}) } sort keys %w;
    return psql_json("select id, at, event, account, host(client_ip) "
                     . "as client_ip, request_id, details "
                     . "from cvc.audit_log where $where order by id");
}

sub access_log {
    my $file = _env('CVC_TEST_DIR') . '/logs/access.log';
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

# error_ok($r, $status, $code, $name): an error in the contract's format
sub error_ok {
    my ($r, $status, $code, $name) = @_;
    local $Test::Builder::Level = ($Test::Builder::Level // 1) + 1;
    my $err = ref $r->{json} eq 'HASH' ? $r->{json}{error} : undef;
    my $ok = Test::More::is($r->{status}, $status, "$name: $status");
    $ok &= Test::More::is(ref $err eq 'HASH' ? $err->{code} : undef, $code,
                          "$name: $code");
    if (!$ok) {
        Test::More::diag("body: " . substr($r->{raw}, 0, 500));
    }
    Test::More::ok(ref $err eq 'HASH' && defined $err->{message}
                   && $err->{message} =~ /\S/, "$name: a message");
    Test::More::is(ref $err eq 'HASH' ? $err->{request_id} : undef,
                   $r->{headers}{'x-request-id'},
                   "$name: the request id, as in X-Request-Id");
    Test::More::like($r->{headers}{'content-type'} // '',
                     qr{^application/json}, "$name: JSON");
    return $ok;
}

# fields_are($r, [names], $name): error.fields names exactly these
sub fields_are {
    my ($r, $names, $name) = @_;
    local $Test::Builder::Level = ($Test::Builder::Level // 1) + 1;
    my $f = eval { $r->{json}{error}{fields} };
    my $ok = Test::More::is_deeply(
        [sort keys %{ ref $f eq 'HASH' ? $f : {} }], [sort @$names],
        "$name: fields " . join(', ', sort @$names));
    Test::More::ok(!grep({ ref $f->{$_} || !defined $f->{$_} }
                         keys %{ ref $f eq 'HASH' ? $f : {} }),
                   "$name: each field's value a string") if ref $f eq 'HASH';
    Test::More::diag("body: $r->{raw}") unless $ok;
    return $ok;
}

# is_utc_time($s): RFC 3339 UTC ("2026-06-24T09:33:00Z", fraction allowed)
sub is_utc_time {
    my ($s) = @_;
    return defined $s && !ref $s
        && $s =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
}

# epoch_of('2026-06-24T09:33:00Z') -> seconds (fraction kept)
sub epoch_of {
    my ($s) = @_;
    $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z\z/
        or return undef;
    return Time::Local::timegm($6, $5, $4, $3, $2 - 1, $1) + ($7 // 0);
}


# ---------------------------------------------------------------------
# Payment requests and money (issue 4).
#
#   ledger_ok();                 # the money invariant (3 tests); also run
#                                # by done_testing() below, in every file
#   my @bad = ledger_problems(); # the same, as a list of problems
#   paris_date($epoch)            -> '2026-06-24'
#   paris_end_of_day('2026-06-26') -> '2026-06-26T21:59:59Z'
#   add_days('2026-06-24', 3)      -> '2026-06-27'
#   my $pr = new_request($token, customer => $b->{id}, amount => 4000);
#   my $r = create_request($token, \%body, %headers);   # the response
#   my $r = pay_request($ctoken, $pr->{id}, $code, amount => 100);
#   customer_balance($ctoken); new_api_key($admin_token, $pos_id)

push @CvcTest::EXPORT, qw(ledger_ok ledger_problems done_testing paris_date
                     paris_end_of_day add_days new_request create_request
                     pay_request customer_balance new_api_key
                     pr_members get_request unique_basket);

# ledger_problems() -> ([check, description], ...): what breaks the money
# invariant. Checks: "balanced" (a movement whose entries don't sum to
# zero), "wallets" (a beneficiary whose balance is not the sum of its
# wallet:<id> entries, or wallet entries of nobody), "negative" (a
# balance, a wallet, an escrow or a merchant account below zero: only
# "funding", where money comes in, may be; or a request's amounts).
sub ledger_problems {
    my @bad;
    my $n = psql('select count(*) from (select movement_id from '
                 . 'cvc.ledger_entries group by 1 having sum(amount) <> 0) x');
    push @bad, [balanced => "$n movement(s) whose entries don't sum to zero"]
        if $n;
    for my $row (@{ psql_json(q{
            select coalesce(b.id, w.id) as id, b.balance, w.total
            from cvc.beneficiaries b
            full join (select substr(account, 8) as id, sum(amount) as total
                       from cvc.ledger_entries where account like 'wallet:%'
                       group by 1) w on w.id = b.id
            where b.id is null or b.balance <> coalesce(w.total, 0)
            order by 1 limit 20}) })
    {
        push @bad, [wallets => sprintf 'beneficiary %s: balance %s, wallet '
                    . 'entries %s', $row->{id}, $row->{balance} // 'none',
                    $row->{total} // 0];
    }
    for my $row (@{ psql_json(q{
            select account, sum(amount) as total from cvc.ledger_entries
            where account <> 'funding' group by 1 having sum(amount) < 0
            order by 1 limit 20}) })
    {
        push @bad, [negative => "account $row->{account}: $row->{total}"];
    }
    $n = psql('select count(*) from cvc.beneficiaries where balance < 0');
    push @bad, [negative => "$n negative balance(s)"] if $n;
    if (psql(q{select to_regclass('cvc.payment_requests') is not null}) eq 't') {
        $n = psql('select count(*) from cvc.payment_requests where '
                  . 'amount_refunded < 0 or amount_received < 0');
        push @bad, [negative => "$n request(s) with a negative amount "
                                . "received or refunded"] if $n;
    }
    return @bad;
}

# ledger_ok(): the money invariant holds, as three tests
sub ledger_ok {
    local $Test::Builder::Level = ($Test::Builder::Level // 1) + 1;
    my @bad = eval { ledger_problems() };
    @bad = map { [$_ => "can't read the ledger: $@"] }
               qw(balanced wallets negative) if $@;
    my $ok = 1;
    for my $check (['balanced', 'every movement\'s entries sum to zero'],
                   ['wallets', 'every balance is the sum of its wallet '
                               . 'entries'],
                   ['negative', 'nothing is negative'])
    {
        my @mine = map { $_->[1] } grep { $_->[0] eq $check->[0] } @bad;
        $ok &= Test::More::ok(!@mine, "ledger: $check->[1]");
        Test::More::diag(join "\n", @mine) if @mine;
    }
    return $ok;
}

# done_testing(): ledger_ok(), then Test::More's. Test files say
# "use Test::More; use CvcTest;": CvcTest's import comes last and wins.
sub done_testing {
    ledger_ok() if $ENV{CVC_TEST_URL};
    goto &Test::More::done_testing;
}

# paris_date($epoch) -> 'YYYY-MM-DD' in Europe/Paris
sub paris_date {
    my ($epoch) = @_;
    local $ENV{TZ} = 'Europe/Paris';
    POSIX::tzset();
    my $d = POSIX::strftime('%Y-%m-%d', localtime $epoch);
    return $d;
}

# paris_end_of_day('2026-06-26') -> 23:59:59 Europe/Paris that day, in UTC
sub paris_end_of_day {
    my ($date) = @_;
    my ($y, $m, $d) = $date =~ /^(\d{4})-(\d\d)-(\d\d)\z/ or die "bad date $date";
    my $t;
    {
        local $ENV{TZ} = 'Europe/Paris';
        POSIX::tzset();
        $t = POSIX::mktime(59, 59, 23, $d, $m - 1, $y - 1900, 0, 0, -1);
    }
    POSIX::tzset();
    return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t);
}

# add_days('2026-06-24', 3) -> '2026-06-27' (calendar days)
sub add_days {
    my ($date, $n) = @_;
    my ($y, $m, $d) = $date =~ /^(\d{4})-(\d\d)-(\d\d)\z/ or die "bad date $date";
    my $t = Time::Local::timegm(0, 0, 12, $d, $m - 1, $y) + $n * 86400;
    return POSIX::strftime('%Y-%m-%d', gmtime $t);
}

sub unique_basket { return 'PANIER-' . ($_[0] // '') . unique_digits(10) }

# the members of the payment request object, as the contract lists them
sub pr_members {
    return qw(id point_of_sale mode type status amount amount_received
              amount_refunded currency allow_partial basket_number customer
              label customer_reference seller_id validation_delay_days
              on_validation_expiry pay_by validation_deadline notify_email
              created_at paid_at validated_at cancelled_at expired_at
              refused_at last_action_at);
}

# create_request($token, \%body, %headers) -> the response of the POST
sub create_request {
    my ($token, $body, %h) = @_;
    return api_as($token, POST => '/api/v1/payment-requests', $body, %h);
}

# new_request($token, %fields) -> the 201's JSON; dies otherwise.
# Defaults: immediate, 4000 cents, a fresh basket number.
sub new_request {
    my ($token, %f) = @_;
    my %body = (mode => 'immediate', amount => 4000,
                basket_number => unique_basket(), %f);
    delete @body{ grep { !defined $body{$_} && $_ ne 'notify_email' }
                  keys %body };
    my $r = _must(create_request($token, \%body), 201,
                  'POST /api/v1/payment-requests');
    return $r->{json};
}

# get_request($token, $id) -> the response of GET /payment-requests/{id}
sub get_request {
    my ($token, $id) = @_;
    return api_as($token, GET => "/api/v1/payment-requests/$id");
}

# pay_request($ctoken, $id, $code, %more) -> the response of …/pay
sub pay_request {
    my ($token, $id, $code, %more) = @_;
    remember_secret($code, 'payment_code') if defined $code && !ref $code;
    return api_as($token, POST => "/api/v1/customer/payment-requests/$id/pay",
                  { payment_code => $code, %more });
}

# customer_balance($ctoken) -> the balance GET /customer/me shows
sub customer_balance {
    my ($token) = @_;
    my $r = _must(api_as($token, GET => '/api/v1/customer/me'), 200,
                  'GET /api/v1/customer/me');
    return $r->{json}{balance};
}

# new_api_key($token, $pos_id) -> the secret of a new API key (and its id
# in list context)
sub new_api_key {
    my ($token, $pos) = @_;
    my $r = _must(api_as($token, POST => "/api/v1/points-of-sale/$pos/api-keys",
                         { name => 'Site ' . unique_digits(4) }), 201,
                  'POST api-keys');
    remember_secret($r->{json}{secret}, 'api_key');
    return wantarray ? ($r->{json}{secret}, $r->{json}{id})
                     : $r->{json}{secret};
}

# raw_api($method, $path, [name => value, ...], $body) -> as api(): for
# what HTTP::Tiny refuses to send (control characters or raw bytes in a
# header). HTTP/1.0, Connection: close; $body is sent as it is (bytes).
sub raw_api {
    my ($method, $path, $headers, $body) = @_;
    require IO::Socket::INET;
    my ($host) = _env('CVC_TEST_URL') =~ m{^http://([^/]+)} or die 'bad URL';
    my $sock = IO::Socket::INET->new(PeerAddr => $host, Timeout => 30)
        or die "connect $host: $!";
    my $req = "$method $path HTTP/1.0\r\nHost: $host\r\nConnection: close\r\n";
    my @h = @{ $headers // [] };
    while (my ($k, $v) = splice @h, 0, 2) { $req .= "$k: $v\r\n" }
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');
    print {$sock} $req;
    local $/;
    my $res = <$sock> // '';
    close $sock;
    my ($head, $raw) = split /\r\n\r\n/, $res, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\d\.\d (\d{3})};
    my %hdr;
    for my $line (split /\r\n/, $head // '') {
        my ($k, $v) = $line =~ /^([^:\s]+):\s*(.*)\z/ or next;
        $k = lc $k;
        if (exists $hdr{$k}) {
            $hdr{$k} = [ref $hdr{$k} ? @{ $hdr{$k} } : $hdr{$k}, $v];
        } else {
            $hdr{$k} = $v;
        }
    }
    $raw //= '';
    my $json = length $raw ? eval { $JSON->decode($raw) } : undef;
    return { status => $status // 599, headers => \%hdr, raw => $raw,
             json => $json };
}

push @CvcTest::EXPORT, 'raw_api';

# url_escape($s): a query-string value, percent-encoded (cursors are opaque)
sub url_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

push @CvcTest::EXPORT, 'url_escape';

# The one loopback address that conf/test.conf lets webhooks reach
# (cvc_webhook_allow): the tests' receivers listen there; 127.0.0.1 and
# the rest of loopback are refused like any address of this machine.
sub webhook_host { '127.0.0.3' }
push @CvcTest::EXPORT, 'webhook_host';

# ---------------------------------------------------------------------
# E-mails, the test clock held, waiting for a status (issue 5).
#
#   my @m = mails('client@example.fr');   # what the SMTP server kept for
#       # this recipient, oldest first: {file, headers => {lc name => value
#       # (RFC 2047 decoded)}, subject, text, html (decoded, characters),
#       # parts => [{type, encoding, charset}], raw}
#   my @m = wait_mails('client@example.fr', 2, 5);   # at least 2, 5 s
#   hold_clock('2026-06-24T09:33:00Z', 2.5);   # "now" kept at most ~0.3 s
#       # past that instant for 2.5 s (real): the timers run meanwhile
#   wait_status($token, $id, 'expired', 5);   # true once GET shows it

use MIME::Base64 ();
use MIME::QuotedPrint ();
use Encode ();

push @CvcTest::EXPORT, qw(mail_dir mails wait_mails parse_mail hold_clock
                     wait_status);

sub mail_dir { return _env('CVC_TEST_DIR') . '/mail' }

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

# hold_clock($time, $seconds): sets the test clock to $time again and
# again for $seconds of real time, so that "now" stays within ~0.3 s of
# $time while the timers tick and sweep
sub hold_clock {
    my ($time, $seconds) = @_;
    my $end = Time::HiRes::time() + $seconds;
    while (1) {
        set_clock($time);
        last if Time::HiRes::time() >= $end;
        Time::HiRes::sleep(0.25);
    }
    return 1;
}

# wait_status($token, $id, $status, $seconds) -> true once the request
# has that status
sub wait_status {
    my ($token, $id, $status, $seconds) = @_;
    return wait_until($seconds // 5, sub {
        my $r = get_request($token, $id);
        $r->{status} == 200 && ($r->{json}{status} // '') eq $status;
    });
}

# ping_during($work): runs $work in a child while the parent pings /ping
# (a plain "return 204" location); returns the work's results, the slowest
# ping seen meanwhile and the number of pings. The event-loop tests use it.
sub ping_during {
    my ($work) = @_;
    my $out = "$ENV{CVC_TEST_DIR}/tmp/ping-during.$$";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my @res = $work->();
        open my $fh, '>', $out or die;
        print $fh JSON::PP->new->encode(\@res);
        close $fh;
        POSIX::_exit(0);
    }
    Time::HiRes::sleep(0.3);                      # let the work reach nginx
    my ($slowest, $pings) = (0, 0);
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        my $t0 = Time::HiRes::time();
        my $r = api(GET => '/ping');
        my $took = Time::HiRes::time() - $t0;
        $slowest = $took if $took > $slowest;
        $pings++ if $r->{status} == 204;
        Time::HiRes::sleep(0.05);
    }
    open my $fh, '<', $out or die "no results from the child";
    my $res = JSON::PP->new->decode(do { local $/; <$fh> });
    unlink $out;
    return ($res, $slowest, $pings);
}


1;
