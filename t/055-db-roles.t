# The database's roles (docs/security.md#database-roles): the gateway
# connects as a role that owns nothing and may only call the API's
# functions. Connected the way nginx is (the cvc_postgres of the running
# nginx.conf), it can't read, write or empty the ledger, the payment
# requests or the wallets, nor drop or disable a trigger, nor replace or
# drop a function, nor call a helper such as cvc.ledger_move; the API's
# functions run as their owner with a fixed search_path, and a payment
# made through nginx still works.
use strict;
use warnings;
use Test::More;
use IPC::Open3 qw(open3);
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.55');

# nginx's own connection string
my $conf = do {
    open my $fh, '<', "$ENV{CVC_TEST_DIR}/nginx.conf" or die "nginx.conf: $!";
    local $/;
    <$fh>;
};
my ($conninfo) = $conf =~ /^\s*cvc_postgres\s+"([^"]+)"/m
    or BAIL_OUT('no cvc_postgres in nginx.conf');
my ($gateway) = $conninfo =~ /\buser=(\S+)/;
ok(defined $gateway, "nginx connects as a named role: $conninfo");

# gateway(@sql) -> {status, out}: the statements run as nginx's role in a
# transaction that is rolled back (should one succeed), stderr in out
sub gateway {
    my @sql = @_;
    my @cmd = ('psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-v',
               'VERBOSITY=verbose', '-d', $conninfo,
               '-c', 'begin', (map { ('-c', $_) } @sql), '-c', 'rollback');
    my $pid = open3(my $in, my $out, undef, @cmd);
    close $in;
    my $text = do { local $/; <$out> } // '';
    waitpid $pid, 0;
    return { status => $? >> 8, out => $text };
}

# denied($sql): the gateway's statement fails for lack of privilege
# (SQLSTATE 42501: "permission denied", "must be owner")
sub denied {
    my ($sql, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = gateway($sql);
    my $ok = like($r->{out}, qr/^ERROR:\s+42501:/m, ($name // $sql) . ': denied');
    diag("status $r->{status}: $r->{out}") unless $ok;
    return $ok;
}

# ---- the role itself ------------------------------------------------------

is(gateway('select current_user')->{out}, "$gateway\n", "psql is $gateway");
is(gateway("select rolsuper or rolcreaterole or rolcreatedb or rolbypassrls
            from pg_roles where rolname = current_user")->{out}, "f\n",
   'no superuser, createrole, createdb or bypassrls');
is(psql(qq{select count(*) from pg_shdepend
           where refclassid = 'pg_authid'::regclass and deptype = 'o'
             and refobjid = '$gateway'::regrole
             and (dbid = (select oid from pg_database where datname = 'cvc')
                  or classid = 'pg_database'::regclass)}), 0,
   'it owns nothing: not the database, not an object in it');
isnt(psql(q{select nspowner::regrole::text from pg_namespace
            where nspname = 'cvc'}), $gateway, 'schema cvc is not its');

# ---- a payment through nginx, which connects as that role ---------------

my $conv = new_convention(name => 'Rôles');
my $pos = new_pos($conv);
my $m = merchant_login($pos->{id}, $pos->{password});
my $ben = new_beneficiary(balance => 10_000);
my $c = customer_login($ben->{id}, $ben->{password});
my $pr = new_request($m->{token}, customer => $ben->{id}, amount => 2500);
my $r = pay_request($c->{token}, $pr->{id}, $ben->{payment_code});
is($r->{status}, 200, 'a payment request created and paid through nginx');
is($r->{json}{status}, 'validated', '... validated');
is(customer_balance($c->{token}), 7500, '... the wallet debited');
is(psql(q{select string_agg(distinct usename, ',') from pg_stat_activity
          where datname = 'cvc' and pid <> pg_backend_pid()}), $gateway,
   "nginx's PostgreSQL sessions are ${gateway}'s");

my $ledger = q{select count(*) || ' ' || coalesce(sum(id * amount), 0)
               from cvc.ledger_entries};
my $before = psql($ledger);

# ---- the tables: no read, no write ---------------------------------------

my %column = (ledger_entries => 'amount', ledger_movements => 'kind',
              payment_requests => 'amount', beneficiaries => 'balance',
              audit_log => 'event');
for my $t (sort keys %column) {
    denied("select count(*) from cvc.$t");
    denied("insert into cvc.$t default values");
    denied("update cvc.$t set $column{$t} = $column{$t}");
    denied("delete from cvc.$t");
    denied("truncate cvc.$t cascade");
}

# ---- the triggers, the functions, the schema ------------------------------

my $triggers = psql_json(q{select tgname, tgrelid::regclass::text as tbl
                           from pg_trigger t
                           join pg_class c on c.oid = t.tgrelid
                           where c.relnamespace = 'cvc'::regnamespace
                             and not t.tgisinternal order by 2, 1});
cmp_ok(scalar @$triggers, '>=', 3, 'the ledger has its triggers');
for my $t (@$triggers) {
    denied("drop trigger $t->{tgname} on $t->{tbl}");
    denied("alter table $t->{tbl} disable trigger $t->{tgname}");
}
denied('alter table cvc.ledger_entries disable trigger user');
denied('alter table cvc.ledger_entries owner to current_user');
denied('drop function cvc.ledger_append_only() cascade');
denied('drop function cvc.pr_pay');
denied(q{create or replace function cvc.now() returns timestamptz
         language sql as 'select now()'}, 'replacing cvc.now()');
denied(q{alter function cvc.pr_pay security invoker});
denied('create table cvc.mine (a int)');
denied(q{create function cvc.mine() returns int language sql as 'select 1'});
denied("select cvc.ledger_move('credit', 'funding', 'wallet:$ben->{id}', 100)",
       'the helper cvc.ledger_move');
denied('set role cvc_owner');
denied("reassign owned by cvc_owner to $gateway");

is(psql($ledger), $before, 'the ledger is as it was');

# ---- what it may call: the functions the module sends --------------------

my %sent;
for my $file (glob "$ENV{CVC_ROOT}/ngx_cvc_module/*.c") {
    open my $fh, '<', $file or die "$file: $!";
    my $src = do { local $/; <$fh> };
    $src =~ s{/\*.*?\*/}{}gs;
    $sent{$1} = 1 while $src =~ /\bcvc\.([a-z_0-9]+)\(/g;
}
my $callable = gateway(q{select proname || ' ' || prosecdef || ' '
                                || coalesce(array_to_string(proconfig, ';'), '')
                         from pg_proc
                         where pronamespace = 'cvc'::regnamespace
                           and has_function_privilege(oid, 'execute')
                         order by 1});
my %may = map { (split / /)[0] => $_ } split /\n/, $callable->{out};
is_deeply([sort keys %may], [sort keys %sent],
          'it may call exactly the functions the module sends '
          . '(the list is sql/grants.sql)');
my @loose = grep { !/^\S+ true .*search_path=cvc, pg_temp/ } values %may;
is_deeply(\@loose, [], 'each runs as its owner with search_path cvc, pg_temp');
is(gateway(q{select cvc.business_days('2026-07-13', 1)->>'date'})->{out},
   "2026-07-15\n", 'and calling one works (14 July is a holiday)');

# ---- and the API still works --------------------------------------------

$r = api_as($m->{token}, GET => "/api/v1/payment-requests/$pr->{id}");
is($r->{status}, 200, 'the merchant reads the request through nginx');
is($r->{json}{amount_received}, 2500, '... paid 25,00');

done_testing;
