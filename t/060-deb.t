# The Debian package (make deb) and docs/deploy.md. The package is
# installed on this machine: its files are where Debian puts them, its
# Depends names the nginx ABI, and Debian's /usr/sbin/nginx loads the
# module through /etc/nginx/modules-enabled. Then every block of
# docs/deploy.md marked <!-- deploy-test: KIND [WHERE] --> is started, with
# the page's example values replaced (@MAP below): a PostgreSQL cluster of
# this test's own with the page's settings, pg_hba.conf lines and roles;
# the package's cvc-migrate; a Redis with the page's settings and
# password; the node's secret files; Debian's nginx.conf with the page's
# three nginx blocks, serving the API over TLS (logins, a pre-reservation
# paid and confirmed, a request cancelled, the list; the metrics and the
# readiness on the internal and public listeners); the module upgraded
# under requests (the package installed again, then USR2, WINCH, QUIT);
# the dump, the base backup and a restore to a point in time. At the end
# the package is purged and the machine is as it was.
#
# It builds the package when it is missing or older than its sources
# (make deb, which installs the missing build dependencies). It skips
# only where it can't install a package: not root, or no dpkg.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep);
use lib 't/lib';
use CvcTest;

plan skip_all => 'installs a Debian package: needs root' if $> != 0;
plan skip_all => 'not a Debian system (no dpkg)' unless -x '/usr/bin/dpkg';

my $root = $ENV{CVC_ROOT} // abs_path('.');
chdir $root or die "$root: $!";
my $PKG = 'libnginx-mod-http-cvc';
my $NGINX = '/usr/sbin/nginx';
my $SO = '/usr/lib/nginx/modules/ngx_http_cvc_module.so';
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-cvc.conf';
# set while this test's package is installed: a run that died leaves it,
# and the next run may then replace and purge the package
my $MARK = '/var/tmp/cvc-t060-installed';

# one run at a time on this machine: the package is the machine's
open my $lock, '>', '/run/lock/cvc-t060.lock' or die "lock: $!";
wait_until(120, sub { flock $lock, LOCK_EX | LOCK_NB })
    or plan skip_all => 'another t/060-deb.t runs on this machine';
my $mine = 1;                   # from here on, cleanup() is this run's

my $was = `dpkg-query -W -f='\${Status}' $PKG 2>/dev/null`;
plan skip_all => "$PKG is installed on this machine, not by this test: "
                 . 'it would be replaced, then purged'
    if $was =~ /\binstalled\b/ && !-e $MARK;

# what the package touches, as it is before
my @touched = ($SO, '/usr/lib/nginx/modules', '/usr/lib/nginx',
               '/usr/share/nginx/modules-available', $ENABLED,
               "$ENABLED.removed", '/usr/share/cvc-gateway',
               '/usr/sbin/cvc-migrate', "/usr/share/doc/$PKG");
my %before = map { $_ => (-e $_ || -l $_) ? 1 : 0 } @touched;

my $t0 = Time::HiRes::time();
sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return undef;
    local $/;
    return scalar <$fh>;
}
sub spew {
    my ($file, $text, $mode) = @_;
    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh or die "$file: $!";
    chmod $mode, $file if defined $mode;
}
# run($cmd) -> its exit status; its output goes to a file, and its last
# lines to the TAP stream's diagnostics when it fails
my $run_log = File::Temp->new(TEMPLATE => 'cvc-t060-XXXXXX', TMPDIR => 1);
sub run {
    my ($cmd) = @_;
    my $rc = system("($cmd) >$run_log 2>&1");
    diag("$cmd:\n" . `tail -n 20 $run_log`) if $rc;
    return $rc;
}

# ---- the package ------------------------------------------------------

# make deb: nothing to do when the package is newer than its sources
is(run('make -s deb'), 0, 'make deb');
my ($version) = (slurp('ngx_cvc_module/ngx_http_cvc_module.h') // '')
    =~ /^#define NGX_HTTP_CVC_VERSION\s+"([^"]+)"/m;
my $arch = `dpkg --print-architecture` =~ s/\s+//gr;
my $deb = "$root/build/deb/${PKG}_${version}_$arch.deb";
unless (ok(-f $deb, "build/deb/${PKG}_${version}_$arch.deb")) {
    done_testing;
    exit;
}

my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[\w.~+-]+)/;
ok($abi, "Debian's nginx provides $abi");
my $depends = `dpkg-deb -f $deb Depends` =~ s/\s+$//r;
like($depends, qr/(^|, )\Q$abi\E(,|$)/, "Depends: $abi, the ABI it was built for");
for my $lib (qw(libpq5 libhiredis0.14 libjansson4 libcurl4 libxlsxwriter4
                libssl3 postgresql-client)) {
    like($depends, qr/(^|, )\Q$lib\E( \(|,|$)/, "Depends: $lib");
}

# it must install alone: what it needs is here (what built it needs it
# too), installed or provided by what is
my %have;
for (`dpkg-query -W -f='\${Status}\t\${Package}\t\${Provides}\n'`) {
    chomp;
    my ($status, $name, $provides) = split /\t/;
    next unless $status =~ /\binstalled\b/;
    $have{$_} = 1 for $name, map { s/\s*\(.*//r } split /,\s*/, $provides // '';
}
my @missing = grep { !grep { $have{$_} } split /\s*\|\s*/ }
              map { s/\s*\([^)]*\)//gr } split /,\s*/, $depends;
if (@missing) {
    diag("installing $PKG would install @missing too; this test leaves the "
         . 'machine as it was, so it stops here');
    done_testing;
    exit;
}

# dpkg(@args): dpkg, waiting for its lock (an apt-get of someone else's)
sub dpkg {
    my $args = join ' ', @_;
    my $end = time + 120;
    while (1) {
        my $rc = system("DEBIAN_FRONTEND=noninteractive dpkg $args >$run_log 2>&1");
        return 0 if $rc == 0;
        if (time < $end && (slurp("$run_log") // '') =~ /\block\b/) {
            sleep 1;
            next;
        }
        diag("dpkg $args:\n" . `tail -n 20 $run_log`);
        return $rc;
    }
}

my ($dir, $pg, $restore, $redis_pid, @masters);
sub cleanup {
    return unless $mine;
    for my $pid (@masters) {
        next unless $pid && kill 0, $pid;
        kill 'QUIT', $pid;
        wait_until(10, sub { !kill 0, $pid }) or kill 'KILL', $pid;
    }
    if ($redis_pid && kill 0, $redis_pid) {
        kill 'TERM', $redis_pid;
        wait_until(5, sub { !kill 0, $redis_pid });
    }
    for my $d (grep { $_ && -f "$_/postmaster.pid" } $restore, $pg) {
        run("runuser -u postgres -- $ENV{PG_BIN}/pg_ctl stop -D $d -m immediate -w");
    }
    if (-e $MARK) {
        dpkg('--purge', $PKG) == 0 and unlink $MARK;
    }
}
END { local $?; cleanup() }

spew($MARK, "t/060-deb.t\n");
is(dpkg('-i', $deb), 0, "dpkg -i $PKG.deb");
is(`dpkg-query -W -f='\${Status} \${Version}' $PKG`, "install ok installed $version",
   "installed, version $version");

# ---- where Debian puts things -------------------------------------------

ok(-f $SO, $SO);
is(slurp('/usr/share/nginx/modules-available/mod-http-cvc.conf'),
   "load_module modules/ngx_http_cvc_module.so;\n",
   'modules-available/mod-http-cvc.conf loads it');
is(readlink($ENABLED), '/usr/share/nginx/modules-available/mod-http-cvc.conf',
   "$ENABLED, by the postinst");
ok(-x '/usr/share/cvc-gateway/cvc-migrate', '/usr/share/cvc-gateway/cvc-migrate');
is(readlink('/usr/sbin/cvc-migrate'), '../share/cvc-gateway/cvc-migrate',
   '/usr/sbin/cvc-migrate links to it');
for my $sub (qw(migrations functions)) {
    my @want = map { s{.*/}{}r } glob "sql/$sub/*.sql";
    my @got = map { s{.*/}{}r } glob "/usr/share/cvc-gateway/sql/$sub/*.sql";
    is_deeply(\@got, \@want, "/usr/share/cvc-gateway/sql/$sub: the repository's");
}
is(slurp('/usr/share/cvc-gateway/sql/grants.sql'), slurp('sql/grants.sql'),
   '... and grants.sql');
ok(-f "/usr/share/doc/$PKG/deploy.md" || -f "/usr/share/doc/$PKG/deploy.md.gz",
   "/usr/share/doc/$PKG/deploy.md");

my $V = `$NGINX -V 2>&1`;
like($V, qr{--modules-path=/usr/lib/nginx/modules\b}, 'nginx -V: the modules path');
like($V, qr{--with-compat\b}, 'nginx -V: --with-compat');

# ---- a folder for the rest; Debian's nginx.conf, rewritten ----------------

$dir = tempdir('cvc-deb-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CVC_KEEP});
chmod 0755, $dir;
mkdir "$dir/$_" for qw(logs tmp etc etc/nginx etc/nginx/conf.d
                       etc/nginx/sites-available etc/nginx/sites-enabled
                       etc/ssl etc/ssl/certs etc/ssl/private etc/postgresql
                       etc/postgresql/15 etc/postgresql/15/main
                       etc/postgresql/15/main/conf.d restore-conf.d pg-sock);
chmod 01777, "$dir/tmp";

# temp folders of this test's own: nginx would make Debian's in /var/lib/nginx
my $temp_paths = join '', map { "    ${_}_temp_path $dir/tmp/$_;\n" }
                          qw(client_body proxy fastcgi uwsgi scgi);
my $debian_conf = slurp('/etc/nginx/nginx.conf') // die;

# debian_conf($main, $sites): /etc/nginx/nginx.conf with this folder's pid,
# logs, conf.d and sites; $main added after its modules-enabled include
sub debian_conf {
    my ($main, $sites) = @_;
    my $c = $debian_conf;
    my $no = '/etc/nginx/nginx.conf is not the one Debian ships: no';
    $c =~ s{^pid\s+/run/nginx\.pid;}{pid $dir/nginx.pid;}m or die "$no pid";
    $c =~ s{^error_log\s+/var/log/nginx/error\.log;}{error_log $dir/logs/error.log;}m
        or die "$no error_log";
    $c =~ s{access_log\s+/var/log/nginx/access\.log;}{access_log $dir/logs/access.log;}
        or die "$no access_log";
    $c =~ s{include\s+/etc/nginx/conf\.d/\*\.conf;}{include $dir/etc/nginx/conf.d/*.conf;}
        or die "$no conf.d";
    $c =~ s{include\s+/etc/nginx/sites-enabled/\*;}{include $sites;} or die "$no sites";
    $c =~ s{^(include\s+/etc/nginx/modules-enabled/\*\.conf;\n)}{$1$main}m
        or die "$no modules-enabled";
    $c =~ s{^(http\s*\{\n)}{$1$temp_paths}m or die "$no http block";
    return $c;
}

# the module loaded, nothing configured, Debian's default site: as right
# after the installation
spew("$dir/nginx-default.conf", debian_conf('', '/etc/nginx/sites-enabled/*'));
is(run("$NGINX -t -q -c $dir/nginx-default.conf -e $dir/logs/error.log"), 0,
   "nginx -t: Debian's nginx.conf and default site, the module loaded and idle");
my $T = `$NGINX -T -c $dir/nginx-default.conf -e $dir/logs/error.log 2>/dev/null`;
like($T, qr{^# configuration file \Q$ENABLED\E:\nload_module modules/ngx_http_cvc_module\.so;}m,
     'nginx -T: the module comes from modules-enabled');

# ---- deploy.md's blocks ----------------------------------------------------

my $doc = slurp('docs/deploy.md') // die;
my @blocks;
while ($doc =~ /^<!-- deploy-test: (\S+)(?: (\S+))? -->\n```[^\n]*\n(.*?)^```\n/msg) {
    push @blocks, { kind => $1, where => $2, text => $3 };
}
my $marks = () = $doc =~ /^<!-- deploy-test:/mg;
is(scalar @blocks, $marks, "deploy.md: each of its $marks marks is before a block");
# block($kind, $where): the text of the one block of that kind (and
# place); block('shell', qr/.../): the one shell block that matches
sub block {
    my ($kind, $where) = @_;
    my @b = grep { $_->{kind} eq $kind } @blocks;
    if (ref $where) {
        @b = grep { $_->{text} =~ $where } @b;
    } elsif (defined $where) {
        @b = grep { ($_->{where} // '') eq $where } @b;
    }
    is(scalar @b, 1, "deploy.md: one block $kind " . ($where // ''))
        or return '';
    $b[0]{used} = 1;
    return $b[0]{text};
}

my ($port, $port80, $ops_port, $pg_port, $redis_port, $restore_port)
    = map { free_port() } 1 .. 6;
my %secret = map { $_ => lc(s/-.*//r) . '-' . unique_digits(48) }
             qw(OWNER-PASSWORD GATEWAY-PASSWORD REDIS-PASSWORD OPS-TOKEN);
remember_secret($_, 'password') for values %secret;
my $target_time;                # the restore's, once known

# deploy.md's example values, and what they stand for here
my @MAP = (
    ['host=10.0.0.5 port=5432' => "host=127.0.0.1 port=$pg_port"],
    ['10.0.0.5:5432:'          => "127.0.0.1:$pg_port:"],
    ["listen_addresses = '10.0.0.5'" => "listen_addresses = '127.0.0.1'"],
    ['10.0.0.6:6379'           => "127.0.0.1:$redis_port"],
    ['bind 10.0.0.6'           => 'bind 127.0.0.1'],
    ['smtp://10.0.0.7:25'      => "smtp://127.0.0.1:$ENV{CVC_SMTP_PORT}"],
    ['listen 443 ssl'          => "listen 127.0.0.1:$port ssl"],
    ['listen 80;'              => "listen 127.0.0.1:$port80;"],
    ['listen 10.0.0.11:8081;'  => "listen 127.0.0.1:$ops_port;"],
    ['10.0.0.11/32'            => '127.0.0.1/32'],
    ['10.0.0.12/32'            => '127.0.0.1/32'],
    ['set_real_ip_from 10.0.0.2;' => 'set_real_ip_from 127.0.0.1;'],
    ['set_real_ip_from 10.0.0.3;' => 'set_real_ip_from 127.0.0.1;'],
    ['allow 10.0.0.0/24;'      => 'allow 127.0.0.1;'],
    ['allow 10.0.0.9;'         => 'allow 127.0.0.1;'],
    ['https://pay.example.fr'  => "https://127.0.0.1:$port"],
    ['/etc/nginx/cvc'          => "$dir/etc/nginx/cvc"],
    ['/etc/ssl/'               => "$dir/etc/ssl/"],
    ['/var/log/nginx/'         => "$dir/logs/"],
    ['/var/lib/postgresql/wal-archive' => "$dir/wal-archive"],
    ['/var/backups/cvc'        => "$dir/backups"],
    (map { [$_ => $secret{$_}] } sort keys %secret),
);

sub render {
    my ($text) = @_;
    for my $m (@MAP) {
        my ($from, $to) = @$m;
        $text =~ s/\Q$from\E/$to/g;
    }
    $text =~ s/'2026-12-03 14:05:00\+01'/'$target_time'/g if defined $target_time;
    die "deploy.md: an example value left after rendering:\n$text"
        if $text =~ /\b10\.\d+\.\d+\.\d+|\b[A-Z]+-(?:PASSWORD|TOKEN)\b/;
    # nothing of this machine's /etc or /var: only this test's folder
    die "deploy.md: a path of this machine left after rendering ($1):\n$text"
        if $text =~ m{(?<![\w.-])(/(?:etc|var)/\S*)};
    return $text;
}

# a shell block, run as deploy.md says, with libpq's defaults aimed at
# this test's cluster (its socket) and the owner's password file
sub shell_ok {
    my ($text, $name) = @_;
    local $ENV{PATH} = "/usr/sbin:/usr/bin:/sbin:/bin";
    local $ENV{PGHOST} = "$dir/pg-sock";
    local $ENV{PGPORT} = $pg_port;
    local $ENV{PGPASSFILE} = "$dir/owner.pgpass";
    spew("$dir/block.sh", "set -e\n" . render($text));
    my $out = `bash $dir/block.sh 2>&1`;
    my $ok = is($?, 0, $name);
    diag($out) unless $ok;
    return $out;
}

# ---- PostgreSQL, as deploy.md sets it up -----------------------------------

$ENV{PG_BIN} = (sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] }
                 glob '/usr/lib/postgresql/*/bin')[-1];
sub as_pg { return "runuser -u postgres -- $ENV{PG_BIN}/$_[0]" }
sub psql_super_at {
    my ($p, $db, $sql) = @_;
    spew("$dir/q.sql", $sql);
    my $cmd = "runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 "
              . "-h $dir/pg-sock -p $p -d $db -f $dir/q.sql 2>&1";
    my $out = `$cmd`;
    return wantarray ? ($out =~ s/\s+$//r, $?) : $out =~ s/\s+$//r;
}

$pg = "$dir/pg";
mkdir $_ for $pg, "$dir/wal-archive";
spew("$dir/logs/$_.log", '') for qw(postgres restore);
run("chown postgres: $pg $dir/wal-archive $dir/pg-sock $dir/logs/postgres.log "
    . "$dir/logs/restore.log && chmod 0700 $pg $dir/wal-archive");
is(run(as_pg("initdb -D $pg -U postgres -E UTF8 --locale=C.UTF-8 --auth=reject")),
   0, 'initdb: a cluster of its own');
# Debian's layout: settings in conf.d (deploy.md's file), pg_hba.conf with
# the superuser's local lines, then deploy.md's
spew("$dir/etc/postgresql/15/main/conf.d/cvc.conf",
     render(block('file', '/etc/postgresql/15/main/conf.d/cvc.conf')));
open my $pgconf, '>>', "$pg/postgresql.conf" or die;
print $pgconf "\n# t/060-deb.t\ninclude_dir = '$dir/etc/postgresql/15/main/conf.d'\n"
    . "unix_socket_directories = '$dir/pg-sock'\nfsync = off\n";
close $pgconf;
spew("$pg/pg_hba.conf", "local all postgres trust\nlocal replication postgres trust\n"
     . render(block('pg_hba')));
run("chown postgres: $pg/postgresql.conf $pg/pg_hba.conf");
is(run(as_pg("pg_ctl start -w -t 30 -D $pg -l $dir/logs/postgres.log -o '-p $pg_port'")),
   0, "PostgreSQL starts with deploy.md's settings")
    or diag(slurp("$dir/logs/postgres.log"));
is(psql_super_at($pg_port, 'postgres', 'show archive_mode'), 'on', '... WAL archiving on');

my ($out, $rc) = psql_super_at($pg_port, 'postgres', render(block('psql')));
is($rc, 0, "deploy.md's roles and database, as the superuser") or diag($out);

spew("$dir/owner.pgpass", render(block('file', '~/.pgpass')), 0600);
my $migrate = block('shell', qr/^cvc-migrate /m);
$out = shell_ok($migrate, "deploy.md's cvc-migrate, from the package");
like($out, qr/^migrate: 0001_foundation\.sql$/m, '... applies the migrations');
like($out, qr/^migrate: \d+ new migration\(s\), schema up to date$/m, '... and says so');
$out = shell_ok($migrate, '... again');
like($out, qr/^migrate: 0 new migration\(s\)/m, '... nothing new the second time');

# the password files of the gateway's role, for the checks below
spew("$dir/gateway.pgpass", "127.0.0.1:$pg_port:cvc:cvc:$secret{'GATEWAY-PASSWORD'}\n", 0600);
sub psql_as_gateway {
    my ($sql) = @_;
    local $ENV{PGPASSFILE} = "$dir/gateway.pgpass";
    my $conn = "host=127.0.0.1 port=$pg_port dbname=cvc user=cvc";
    return scalar `psql -XAtq -d '$conn' -c '$sql' 2>&1`;
}
like(psql_as_gateway('select count(*) from cvc.ledger_entries'),
     qr/permission denied/, 'the gateway role may not read a table');
{
    local $ENV{PGPASSFILE} = "$dir/gateway.pgpass";
    like(`/usr/sbin/cvc-migrate 'host=127.0.0.1 port=$pg_port dbname=cvc user=cvc' 2>&1`,
         qr/connected as cvc, but database cvc belongs to cvc_owner/,
         'cvc-migrate refuses to run as the gateway role');
    my $conn = "host=127.0.0.1 port=$pg_port dbname=postgres user=cvc";
    like(`psql -XAtq -d '$conn' -c 'select 1' 2>&1`, qr/no pg_hba\.conf entry/,
         'pg_hba.conf: the gateway role reaches database cvc only');
}

# ---- Redis, as deploy.md sets it up ----------------------------------------

mkdir "$dir/redis";
spew("$dir/redis.conf", render(block('redis.conf'))
     . "\n# t/060-deb.t\nport $redis_port\ndaemonize yes\ndir $dir/redis\n"
     . "pidfile $dir/redis/redis.pid\nlogfile $dir/logs/redis.log\n");
is(run("redis-server $dir/redis.conf"), 0, "Redis starts with deploy.md's settings");
wait_until(5, sub { ($redis_pid = slurp("$dir/redis/redis.pid") // '') =~ s/\s+//g; $redis_pid });
like(`redis-cli -p $redis_port ping 2>&1`, qr/NOAUTH/, '... and asks for its password');
{
    local $ENV{REDISCLI_AUTH} = $secret{'REDIS-PASSWORD'};
    is(`redis-cli -p $redis_port ping` =~ s/\s+//r, 'PONG', '... which it takes');
    is(`redis-cli -p $redis_port config get save` =~ s/\s+/ /gr, 'save ', '... no snapshots');
    is(`redis-cli -p $redis_port config get maxmemory-policy` =~ s/\s+/ /gr,
       'maxmemory-policy noeviction ', '... noeviction');
}

# ---- the node's secrets and certificate ------------------------------------

shell_ok(block('shell', qr/payment-code\.key/), "deploy.md's secret files of a node");
my @st = stat "$dir/etc/nginx/cvc/payment-code.key";
ok(@st && ($st[2] & 0777) == 0600 && $st[4] == 0, '... the payment-code key: root, 0600');
like(slurp("$dir/etc/nginx/cvc/payment-code.key"), qr/^[0-9a-f]{64}\n\z/,
     '... 32 bytes in hex');
@st = stat "$dir/etc/nginx/cvc/pgpass";
ok(@st && ($st[2] & 0777) == 0600 && $st[4] == getpwnam('www-data'),
   '... pgpass: www-data, 0600');
is(slurp("$dir/etc/nginx/cvc/redis.password"), "$secret{'REDIS-PASSWORD'}\n",
   '... the Redis password, on one line');
is(run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=pay.example.fr "
       . "-keyout $dir/etc/ssl/private/pay.example.fr.key "
       . "-out $dir/etc/ssl/certs/pay.example.fr.pem 2>/dev/null"), 0,
   'a certificate for pay.example.fr');

# ---- Debian's nginx with deploy.md's configuration -------------------------

spew("$dir/etc/nginx/conf.d/cvc.conf", render(block('file', '/etc/nginx/conf.d/cvc.conf')));
spew("$dir/etc/nginx/sites-available/cvc",
     render(block('file', '/etc/nginx/sites-available/cvc')), 0600);
symlink "$dir/etc/nginx/sites-available/cvc", "$dir/etc/nginx/sites-enabled/cvc";
spew("$dir/nginx.conf", debian_conf(render(block('nginx-main')),
                                    "$dir/etc/nginx/sites-enabled/*"));
my @nginx = ($NGINX, '-c', "$dir/nginx.conf", '-e', "$dir/logs/error.log");
is(run("@nginx -t"), 0, "nginx -t: deploy.md's configuration");
is(run("@nginx"), 0, "Debian's nginx starts with it");
sub master { (slurp("$dir/nginx.pid") // '') =~ /(\d+)/ ? $1 : undef }
wait_until(5, sub { master() });
push @masters, master();

my $public = "https://127.0.0.1:$port";
my $internal = "http://127.0.0.1:$ops_port";
$ENV{CVC_TEST_URL} = $public;
$ENV{CVC_OPS_TOKEN} = $secret{'OPS-TOKEN'};
# the money checks of done_testing, on this cluster
$ENV{CVC_PG_PORT} = $pg_port;
$ENV{PGPASSFILE} = "$dir/owner.pgpass";
# the internal listener, reached as an operator's host reaches it: from
# its own address, not through a load balancer (no X-Forwarded-For)
sub internal(&) {
    local $ENV{CVC_TEST_URL} = $internal;
    local $Cvc::Http::CLIENT_IP;
    return $_[0]->();
}
client_ip('192.0.2.60');

ok(wait_until(10, sub { api(GET => '/api/v1/health')->{status} == 200 }),
   'health over TLS: 200');
is(api(GET => '/api/v1/health')->{json}{version}, $version,
   "... version $version, the package's");
my $r = HTTP::Tiny->new(max_redirect => 0)->get("http://127.0.0.1:$port80/api/v1/health");
is($r->{status}, 301, 'plain http: 301');
like($r->{headers}{location} // '', qr{^https://127\.0\.0\.1/api/v1/health$}, '... to https');
is(api(GET => '/ops/v1/conventions')->{status}, 404, 'no ops API on the public listener');

my ($conv, $pos, $ben) = internal {
    my $c = new_convention(name => 'Camping du paquet');
    return ($c, new_pos($c, name => 'Accueil'), new_beneficiary(balance => 10_000));
};
ok($conv->{id} && $pos->{id} && $ben->{id},
   'accounts made through the ops API of the internal listener');

$r = merchant_login_r($pos->{id}, $pos->{password});
is($r->{status}, 201, 'a merchant logs in over TLS');
like($r->{headers}{'set-cookie'} // '',
     qr/^__Host-cvc_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Secure$/,
     '... its cookie: __Host-cvc_session, Secure');
my $m = $r->{json}{token};
$r = customer_login_r($ben->{id}, $ben->{password});
is($r->{status}, 201, 'a customer logs in');
like($r->{headers}{'set-cookie'} // '', qr/^__Host-cvc_customer_session=[^;]+;.*; Secure$/,
     '... __Host-cvc_customer_session, Secure');
my $c = $r->{json}{token};

my $p = new_request($m, customer => $ben->{id}, amount => 4000,
                    validation_delay_days => 2);
is($p->{status}, 'awaiting_payment', 'a pre-reservation asked for');
$r = pay_request($c, $p->{id}, $ben->{payment_code});
is($r->{status}, 200, 'the customer pays it with the payment code');
is($r->{json}{status}, 'to_validate', '... to_validate');
$r = api_as($m, POST => "/api/v1/payment-requests/$p->{id}/confirm");
is($r->{json}{status}, 'validated', 'the merchant confirms it: validated');
my $q = new_request($m, customer => $ben->{id}, amount => 1500);
$r = api_as($m, POST => "/api/v1/payment-requests/$q->{id}/cancel");
is($r->{json}{status}, 'cancelled', 'another one, cancelled');
$r = api_as($m, GET => '/api/v1/payment-requests');
is($r->{status}, 200, 'the list');
is_deeply([map { $_->{id} } @{ $r->{json}{data} // [] }], [$q->{id}, $p->{id}],
          '... both, the last action first');
is(customer_balance($c), 6000, "the customer's balance: 100,00 - 40,00");

$r = HTTP::Tiny->new->get("$internal/metrics");
is($r->{status}, 200, 'the metrics, on the internal listener');
like($r->{content}, qr/^cvc_payment_requests_total\{event="confirmed"\} 1$/m,
     '... which count the confirmation');
$r = api(GET => '/api/v1/health/ready');
is($r->{status}, 200, 'ready: the schema cvc-migrate made is the one the module needs');
is($r->{json}{status}, 'ok', '... ok');

# ---- the upgrade: the package again, then nginx's binary upgrade ----------

my $inode = (stat $SO)[1];
my $stop = "$dir/pinger.stop";
my $pinger = fork // die "fork: $!";
if ($pinger == 0) {
    # never this file's END (it would purge the package)
    eval {
        my %count;
        my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
        until (-e $stop) {
            $count{ $http->get("$public/api/v1/health")->{status} }++;
            sleep 0.02;
        }
        spew("$dir/pinger.json", JSON::PP->new->encode(\%count));
    };
    POSIX::_exit(0);
}
is(dpkg('-i', $deb), 0, 'the package installed again under requests');
isnt((stat $SO)[1], $inode,
     '... the .so a new file (dpkg renames it; never rewrites the mapped one)');
my $old = master();
is(run("@nginx -t"), 0, 'nginx -t with the new file');
kill 'USR2', $old;
ok(wait_until(10, sub { -s "$dir/nginx.pid.oldbin" && (master() // $old) != $old }),
   'USR2: a new master');
my $new = master();
push @masters, $new;
sub children {
    my ($ppid) = @_;
    return grep { (slurp("/proc/$_/stat") // '') =~ /^\d+ \(.*\) \S $ppid / }
           map { m{/proc/(\d+)/} ? $1 : () } glob '/proc/[0-9]*/stat';
}
ok(wait_until(10, sub { children($new) > 0 }), '... with its workers');
kill 'WINCH', $old;
# the new master is a child of the old one too
ok(wait_until(15, sub { !grep { $_ != $new } children($old) }),
   'WINCH: the old workers leave');
kill 'QUIT', $old;
ok(wait_until(10, sub { !kill 0, $old }), 'QUIT: the old master leaves');
my $newino = (stat $SO)[1];
my @maps = map { slurp("/proc/$_/maps") // '' } children($new);
ok(@maps && !grep({ !/ \Q$newino\E\s+\Q$SO\E$/m } @maps),
   "the new workers map the new .so (inode $newino)");
ok(wait_until(5, sub { api(GET => '/api/v1/health')->{status} == 200 }), 'health: 200');
spew($stop, '');
waitpid $pinger, 0;
my $count = JSON::PP->new->decode(slurp("$dir/pinger.json") // '{}');
my $all = 0;
$all += $_ for values %$count;
is_deeply([grep { $_ ne '200' } keys %$count], [],
          "every request during the upgrade answered 200 ($all)")
    or diag explain $count;

# ---- backups ---------------------------------------------------------------

shell_ok(block('shell', qr/pg_dump /), "deploy.md's nightly dump");
my ($file) = glob "$dir/backups/cvc-*.dump";
like(`pg_restore --list $file 2>&1`, qr/TABLE DATA cvc ledger_entries/,
     '... a dump of the ledger');
ok((glob "$dir/backups/globals-*.sql")
   && slurp((glob "$dir/backups/globals-*.sql")[0]) =~ /CREATE ROLE cvc_owner;/,
   '... and the roles');
# restored as deploy.md says (the roles are there already), beside cvc
my $prs = psql_super_at($pg_port, 'cvc', 'select count(*) from cvc.payment_requests');
is(run("runuser -u postgres -- createdb -h $dir/pg-sock -p $pg_port -O cvc_owner cvc_dumped"
       . " && runuser -u postgres -- pg_restore -h $dir/pg-sock -p $pg_port -d cvc_dumped $file"),
   0, '... which pg_restore restores');
is(psql_super_at($pg_port, 'cvc_dumped', 'select count(*) from cvc.payment_requests'), $prs,
   "... its $prs payment requests");

# pg_basebackup starts with a spread checkpoint (minutes, with the
# defaults): one made just before leaves it nothing to spread
psql_super_at($pg_port, 'postgres', 'checkpoint');
shell_ok(block('shell', qr/pg_basebackup /), "deploy.md's base backup");
my ($bdir) = glob "$dir/backups/base-*";
ok($bdir && -f "$bdir/base.tar.gz" && -f "$bdir/pg_wal.tar.gz",
   '... base.tar.gz and pg_wal.tar.gz');

# a request before the target time, one after; the WAL archived
my $before = new_request($m, customer => $ben->{id}, amount => 100);
sleep 0.3;
$target_time = psql_super_at($pg_port, 'cvc', "select now()");
sleep 0.3;
my $after = new_request($m, customer => $ben->{id}, amount => 200);
my $seg = psql_super_at($pg_port, 'postgres', 'select pg_walfile_name(pg_switch_wal())');
ok(wait_until(15, sub { -f "$dir/wal-archive/$seg" }), "the WAL archived ($seg)");

$restore = "$dir/restore";
mkdir $restore;
run("tar -xzf $bdir/base.tar.gz -C $restore && tar -xzf $bdir/pg_wal.tar.gz -C $restore/pg_wal"
    . " && touch $restore/recovery.signal && chown -R postgres: $restore && chmod 0700 $restore");
# the restored cluster's conf.d: deploy.md's settings and recovery.conf
spew("$dir/restore-conf.d/cvc.conf",
     render(block('file', '/etc/postgresql/15/main/conf.d/cvc.conf')));
spew("$dir/restore-conf.d/recovery.conf", render(block('pg-recovery')));
my $rconf = slurp("$restore/postgresql.conf");
$rconf =~ s{^include_dir = .*$}{include_dir = '$dir/restore-conf.d'}m or die;
spew("$restore/postgresql.conf", $rconf);
is(run(as_pg("pg_ctl start -w -t 60 -D $restore -l $dir/logs/restore.log -o '-p $restore_port'")),
   0, "a restore with deploy.md's recovery settings starts")
    or diag(slurp("$dir/logs/restore.log"));
ok(wait_until(30, sub {
       psql_super_at($restore_port, 'postgres', 'select pg_is_in_recovery()') eq 'f' }),
   '... replays the archive and is promoted')
    or diag(slurp("$dir/logs/restore.log"));
is(psql_super_at($restore_port, 'cvc', 'select count(*) from cvc.payment_requests where id = '
                 . sql_quote($before->{id})), 1, '... with the request made before the target');
is(psql_super_at($restore_port, 'cvc', 'select count(*) from cvc.payment_requests where id = '
                 . sql_quote($after->{id})), 0, '... and not the one after it');

# ---- nginx stops clean; the package goes; the machine as it was -------------

kill 'QUIT', $new;
ok(wait_until(10, sub { !kill 0, $new }), 'nginx stops');
my @bad = grep { /\[alert\]|\[emerg\]/ } split /\n/, slurp("$dir/logs/error.log") // '';
is_deeply(\@bad, [], 'no alert in its error log');

is(dpkg('--remove', $PKG), 0, "dpkg --remove $PKG");
ok(!-e $SO && !-e $ENABLED && readlink("$ENABLED.removed"),
   "... the module gone, its link moved aside ($ENABLED.removed)");
is(dpkg('--purge', $PKG), 0, "dpkg --purge $PKG");
unlink $MARK;
is_deeply({ map { $_ => (-e $_ || -l $_) ? 1 : 0 } @touched }, \%before,
          'the machine as it was: ' . join(', ', grep { !$before{$_} } @touched)
          . ' gone');

is_deeply([map { "$_->{kind} " . ($_->{where} // substr($_->{text}, 0, 40)) }
           grep { !$_->{used} } @blocks], [], 'every block of deploy.md started');
diag(sprintf 't/060-deb.t: %.1f s', Time::HiRes::time() - $t0);
done_testing;
