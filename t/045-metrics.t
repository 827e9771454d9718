# GET /metrics ("cvc_metrics on"): Prometheus's text format 0.0.4, read by
# Prometheus's own parser (Debian's python3-prometheus-client); every
# family there, and the numbers move with what the gateway does: requests
# by route, a payment's cents, a confirm, a timer that expires a request,
# the e-mails of the outbox.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use File::Temp ();
use lib 't/lib';
use CvcTest;

client_ip('192.0.2.45');
reset_clock();

# the families, parsed by prometheus_client: { name => { type, samples =>
# [[name, {labels}, value]] } }
my $PARSE = <<'PY';
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "help": f.documentation,
                   "samples": [[s.name, s.labels, s.value] for s in f.samples]}
print(json.dumps(out))
PY
my $py = File::Temp->new(SUFFIX => '.py');
print $py $PARSE;
close $py;

sub scrape {
    my $r = HTTP::Tiny->new(timeout => 10)->get("$ENV{CVC_TEST_URL}/metrics");
    die "GET /metrics: $r->{status}\n" unless $r->{status} == 200;
    my $tmp = File::Temp->new;
    print $tmp $r->{content};
    close $tmp;
    my $json = `/usr/bin/python3 $py < $tmp`;
    die "the parser refused the metrics\n" if $?;
    return (JSON::PP->new->decode($json), $r);
}
# value($families, 'family', sample name (default: the family's), labels)
sub value {
    my ($fam, $family, $name, %labels) = @_;
    $name //= $family;
    my $f = $fam->{$family} or return undef;
    my $sum;
    SAMPLE: for my $s (@{ $f->{samples} }) {
        next unless $s->[0] eq $name;
        for (keys %labels) {
            next SAMPLE unless ($s->[1]{$_} // '') eq $labels{$_};
        }
        $sum += $s->[2];
    }
    return $sum;
}

my ($m, $r) = scrape();
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'text/plain; version=0.0.4');
my %types = (
    cvc_http_requests => 'counter', cvc_http_request_duration_seconds => 'histogram',
    cvc_postgres_connections => 'gauge', cvc_postgres_queue_length => 'gauge',
    cvc_postgres_queries => 'counter', cvc_postgres_waits => 'counter',
    cvc_postgres_timeouts => 'counter', cvc_postgres_queue_full => 'counter',
    cvc_postgres_connects => 'counter', cvc_postgres_connect_failures => 'counter',
    cvc_redis_connections => 'gauge', cvc_redis_commands_in_flight => 'gauge',
    cvc_redis_commands => 'counter', cvc_redis_timeouts => 'counter',
    cvc_redis_unreachable => 'counter', cvc_redis_connects => 'counter',
    cvc_redis_connect_failures => 'counter', cvc_thread_tasks => 'gauge',
    cvc_timers_due => 'gauge', cvc_timers_late_seconds => 'gauge',
    cvc_timers_claimed => 'counter', cvc_timers_fired => 'counter',
    cvc_outbox_pending => 'gauge', cvc_outbox_retrying => 'gauge',
    cvc_outbox_oldest_seconds => 'gauge', cvc_outbox_sent => 'counter',
    cvc_outbox_failed => 'counter', cvc_webhook_deliveries => 'counter',
    cvc_payment_requests => 'counter', cvc_paid_cents => 'counter',
    cvc_backend_up => 'gauge');
for my $name (sort keys %types) {
    is($m->{$name}{type}, $types{$name}, "$name: a $types{$name}");
}
is(value($m, 'cvc_backend_up', undef, backend => 'postgres'), 1, 'PostgreSQL up');
is(value($m, 'cvc_backend_up', undef, backend => 'redis'), 1, 'Redis up');
is_deeply([sort map { $_->[1]{kind} } grep { $_->[0] eq 'cvc_thread_tasks' }
           @{ $m->{cvc_thread_tasks}{samples} }],
          [sort map { ($_) x 2 } qw(export hash mail resolve webhook)],
          'thread tasks by kind, queued and running');
ok(value($m, 'cvc_postgres_connections', undef, state => 'idle')
   + value($m, 'cvc_postgres_connections', undef, state => 'busy') >= 1,
   'the pool has PostgreSQL connections');

# ---- they move -----------------------------------------------------------------

my $conv = new_convention();
my $pos = new_pos($conv);
my $m1 = merchant_login($pos->{id}, $pos->{password});
my $ben = new_beneficiary(balance => 10000);
my $c = customer_login($ben->{id}, $ben->{password});
my $create = { method => 'POST', route => '/api/v1/payment-requests', status => '2xx' };

sleep 1.2;                               # the gauges are a second old at most
my ($before) = scrape();
my $p = new_request($m1->{token}, customer => $ben->{id}, amount => 2345,
                    validation_delay_days => 2);
pay_request($c->{token}, $p->{id}, $ben->{payment_code});
is(api_as($m1->{token}, POST => "/api/v1/payment-requests/$p->{id}/confirm")->{status},
   200, 'a pre-reservation paid and confirmed');
my $gone = new_request($m1->{token}, customer => $ben->{id}, amount => 100);
merchant_login($pos->{id}, $pos->{password});     # a password hashed
set_clock('2031-01-01T12:00:00Z');               # past its payment window
ok(wait_until(10, sub { psql("select status from cvc.payment_requests where id = "
                             . sql_quote($gone->{id})) eq 'expired' }),
   'a request left unpaid expires');
wait_until(10, sub { psql('select count(*) from cvc.outbox where sent_at is null') == 0 });
sleep 1.2;
my ($after) = scrape();

sub moved {
    my ($what, $by, $family, $name, %labels) = @_;
    my $d = (value($after, $family, $name, %labels) // 0)
            - (value($before, $family, $name, %labels) // 0);
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (defined $by) {
        is($d, $by, "$what: +$by");
    } else {
        cmp_ok($d, '>', 0, "$what: up ($d)");
    }
}
moved('creates, 2xx', 2, 'cvc_http_requests', 'cvc_http_requests_total', %$create);
moved('the creates in the histogram', 2, 'cvc_http_request_duration_seconds',
      'cvc_http_request_duration_seconds_count', method => 'POST',
      route => '/api/v1/payment-requests');
moved('... and under +Inf', 2, 'cvc_http_request_duration_seconds',
      'cvc_http_request_duration_seconds_bucket', method => 'POST',
      route => '/api/v1/payment-requests', le => '+Inf');
moved('payment requests created', 2, 'cvc_payment_requests',
      'cvc_payment_requests_total', event => 'created');
moved('... paid', 1, 'cvc_payment_requests', 'cvc_payment_requests_total',
      event => 'paid');
moved('... confirmed', 1, 'cvc_payment_requests', 'cvc_payment_requests_total',
      event => 'confirmed');
# (requests that earlier test files left unpaid expire with it)
moved('... expired', undef, 'cvc_payment_requests', 'cvc_payment_requests_total',
      event => 'expired');
moved('the cents paid', 2345, 'cvc_paid_cents', 'cvc_paid_cents_total');
moved('timers fired for a payment window', undef, 'cvc_timers_fired',
      'cvc_timers_fired_total', kind => 'pay');
moved('timers claimed', undef, 'cvc_timers_claimed', 'cvc_timers_claimed_total');
moved('e-mails sent', undef, 'cvc_outbox_sent', 'cvc_outbox_sent_total',
      kind => 'email');
moved('PostgreSQL queries', undef, 'cvc_postgres_queries',
      'cvc_postgres_queries_total');
moved('Redis commands', undef, 'cvc_redis_commands', 'cvc_redis_commands_total');
moved('logins', 1, 'cvc_http_requests',
      'cvc_http_requests_total', method => 'POST',
      route => '/api/v1/merchant/sessions', status => '2xx');
is(value($after, 'cvc_outbox_pending', undef, kind => 'email') // 0, 0,
   'the outbox drained: nothing pending');
ok(defined value($after, 'cvc_timers_due'), 'timers due: a number');

# an unknown path is counted under route "none"
api(GET => '/api/v1/no-such-thing');
my ($last) = scrape();
cmp_ok(value($last, 'cvc_http_requests', 'cvc_http_requests_total',
             route => 'none', status => '4xx') // 0, '>=', 1,
       'a request that reached no route: route "none"');
is(HTTP::Tiny->new->post("$ENV{CVC_TEST_URL}/metrics")->{status}, 405,
   'POST /metrics: 405');

done_testing;
