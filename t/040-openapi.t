# docs/openapi.json against the code: every route of the router's table is
# documented with its method and callers, every documented operation is
# served, and what the server answers has the documented status and shape.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use CvcTest;
use JSON::PP ();
use B ();

my $root = $ENV{CVC_ROOT} // '.';

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

my $doc = JSON::PP->new->utf8->decode(slurp("$root/docs/openapi.json"));

is($doc->{openapi}, '3.0.3', 'OpenAPI 3.0.3');
like($doc->{info}{description} // '', qr/cents/i,
     'info.description has the conventions');
like($doc->{info}{description} // '', qr/RFC 3339/,
     'info.description has the time stamps');
like($doc->{info}{description} // '', qr/validation_failed/,
     'info.description has the errors');

# ---------------------------------------------------------------------
# The router's table: { METHODS, PATH, handler, CALLERS }

my $c = slurp("$root/ngx_cvc_module/ngx_http_cvc_router.c");
$c =~ s{/\*.*?\*/}{}gs;

my %macro;
while ($c =~ /^#define\s+(NGX_HTTP_CVC_\w+)\s+((?:NGX_HTTP_CVC_\w+\s*)?(?:"[^"]*"\s*)+)$/mg) {
    $macro{$1} = $2;
}

sub expand {
    my ($expr) = @_;
    my $out = '';
    while ($expr =~ /\G\s*(?:"([^"]*)"|(NGX_HTTP_CVC_\w+))/gc) {
        if (defined $1) {
            $out .= $1;
        } else {
            defined $macro{$2} or die "unknown macro $2";
            $out .= expand($macro{$2});
        }
    }
    return $out;
}

my ($table) = $c =~ /ngx_http_cvc_routes\[\]\s*=\s*\{(.*?)\n\};/s
    or BAIL_OUT("no route table in ngx_http_cvc_router.c");

my %method_of = (NGX_HTTP_CVC_GET => ['get'], NGX_HTTP_GET => ['get'],
                 NGX_HTTP_HEAD => [], NGX_HTTP_POST => ['post'],
                 NGX_HTTP_PUT => ['put'], NGX_HTTP_DELETE => ['delete'],
                 NGX_HTTP_PATCH => ['patch']);
my %callers_of = (
    NGX_HTTP_CVC_PUBLIC => [],
    NGX_HTTP_CVC_MERCHANT => [qw(admin point_of_sale)],
    NGX_HTTP_CVC_PARTNER => [qw(admin point_of_sale api_key)],
    NGX_HTTP_CVC_CUSTOMER => [qw(customer)],
    NGX_HTTP_CVC_ANYONE => [qw(admin point_of_sale api_key customer)],
    NGX_HTTP_CVC_ADMIN => [qw(admin)],
    NGX_HTTP_CVC_POS => [qw(point_of_sale)],
    NGX_HTTP_CVC_API_KEY => [qw(api_key)],
    NGX_HTTP_CVC_OPS => [qw(ops)],
    NGX_HTTP_CVC_CLOCK => [qw(ops)],
);

my @routes;
# { methods, path, handler, callers, event }
while ($table =~ /\{\s*([A-Z_|\s()]+?)\s*,\s*((?:NGX_HTTP_CVC_\w+\s*)?(?:"[^"]*"\s*)+),\s*(\w+)\s*,\s*([A-Z_|\s]+?)\s*,\s*(?:0|NGX_HTTP_CVC_EVENT\(\w+\))\s*\}/g) {
    my ($methods, $path, $handler, $callers) = ($1, expand($2), $3, $4);
    my (@m, %who);
    for my $t (grep { length } split /[\s|()]+/, $methods) {
        defined $method_of{$t} or die "unknown method $t";
        push @m, @{ $method_of{$t} };
    }
    for my $t (grep { length } split /[\s|()]+/, $callers) {
        defined $callers_of{$t} or die "unknown callers $t";
        $who{$_} = 1 for @{ $callers_of{$t} };
    }
    push @routes, { method => $_, path => $path, handler => $handler,
                    callers => [sort keys %who] } for @m;
}

cmp_ok(scalar @routes, '>=', 30, scalar(@routes) . ' routes in the router');

my %routed;
for my $rt (@routes) {
    my $name = uc($rt->{method}) . " $rt->{path}";
    $routed{"$rt->{method} $rt->{path}"} = 1;
    my $op = $doc->{paths}{ $rt->{path} }{ $rt->{method} };
    ok($op, "(a) $name is in openapi.json") or next;
    is_deeply([sort @{ $op->{'x-cvc-callers'} // [] }], $rt->{callers},
              "(a) $name: x-cvc-callers as the router's "
              . (join(',', @{ $rt->{callers} }) || 'public'));
}

# ---------------------------------------------------------------------
# The document itself

my @ops;
for my $path (sort keys %{ $doc->{paths} }) {
    for my $method (sort keys %{ $doc->{paths}{$path} }) {
        next unless $method =~ /^(get|put|post|delete|patch|head|options)$/;
        push @ops, [$method, $path, $doc->{paths}{$path}{$method}];
    }
}
is(scalar @ops, scalar @routes, 'as many operations as routes');

sub resolve {
    my ($x) = @_;
    my %seen;
    while (ref $x eq 'HASH' && $x->{'$ref'}) {
        my $ref = $x->{'$ref'};
        die "a \$ref loop at $ref" if $seen{$ref}++;
        $ref =~ m{^#/(.*)} or die "not a local \$ref: $ref";
        $x = $doc;
        for my $k (split m{/}, $1) {
            $x = ref $x eq 'HASH' ? $x->{$k} : undef;
        }
        defined $x or die "\$ref to nowhere: $ref";
    }
    return $x;
}

# every $ref resolves
my @refs;
my $walk;
$walk = sub {
    my ($x) = @_;
    if (ref $x eq 'HASH') {
        push @refs, $x->{'$ref'} if defined $x->{'$ref'};
        $walk->($_) for values %$x;
    } elsif (ref $x eq 'ARRAY') {
        $walk->($_) for @$x;
    }
};
$walk->($doc);
my @dangling = grep { !eval { resolve({ '$ref' => $_ }); 1 } } @refs;
is_deeply(\@dangling, [], scalar(@refs) . ' $refs, none dangling');

my %schemes = %{ $doc->{components}{securitySchemes} // {} };
ok($schemes{$_}, "security scheme $_") for qw(bearerAuth cookieAuth
                                               csrfToken opsToken);

for my $o (@ops) {
    my ($method, $path, $op) = @$o;
    my $name = uc($method) . " $path";
    my @problems;
    push @problems, 'no summary' unless ($op->{summary} // '') =~ /\S/;
    push @problems, 'no security' unless ref $op->{security} eq 'ARRAY';
    for my $req (@{ $op->{security} // [] }) {
        push @problems, "unknown scheme $_" for grep { !$schemes{$_} }
                                                keys %$req;
    }
    my %declared = map { $_->{name} => 1 }
                   grep { $_->{in} eq 'path' }
                   map { resolve($_) } @{ $op->{parameters} // [] };
    for my $capture ($path =~ /\{(\w+)\}/g) {
        push @problems, "path parameter {$capture} not declared"
            unless delete $declared{$capture};
    }
    push @problems, "path parameter $_ not in the path" for keys %declared;
    my $responses = $op->{responses} // {};
    push @problems, 'no 2xx answer' unless grep { /^2/ } keys %$responses;
    for my $status (grep { !/^2/ } keys %$responses) {
        my $resp = resolve($responses->{$status});
        my $schema = $resp->{content}{'application/json'}{schema};
        push @problems, "$status has no JSON schema" unless $schema;
        push @problems, "$status is not the error object"
            if $schema && ($schema->{'$ref'} // '') ne
                          '#/components/schemas/Error'
               && !($path =~ m{^/api/v1/health(?:/ready)?$} && $status eq '503');
    }
    if (my $body = $op->{requestBody}) {
        my $schema = resolve($body->{content}{'application/json'}{schema});
        push @problems, 'request body without additionalProperties: false'
            unless $schema && defined $schema->{additionalProperties}
                   && !$schema->{additionalProperties};
        push @problems, 'no 422 for a body'
            unless $responses->{422} || !%{ $schema->{properties} // {} };
        push @problems, "no $_ for a body" for grep { !$responses->{$_} }
                                               qw(400 413 415);
    }
    my $sec = join ' ', sort map { join '+', sort keys %$_ }
                        @{ $op->{security} // [] };
    my @who = @{ $op->{'x-cvc-callers'} // [] };
    my $want = !@who ? ''
             : "@who" eq 'ops' ? 'opsToken'
             : $method eq 'get' ? 'bearerAuth cookieAuth'
             : 'bearerAuth cookieAuth+csrfToken';
    push @problems, "security '$sec', expected '$want'" if $sec ne $want;
    push @problems, 'no 401' if @who && !$responses->{401};
    is_deeply(\@problems, [], "$name: documented in full");
}

# ---------------------------------------------------------------------
# A small validator for the subset of OpenAPI 3.0 schemas used

sub kind_of {
    my ($v) = @_;
    return 'null' unless defined $v;
    if (ref $v) {
        return 'boolean' if JSON::PP::is_bool($v);
        return ref $v eq 'HASH' ? 'object' : ref $v eq 'ARRAY' ? 'array'
                                           : 'unknown';
    }
    my $flags = B::svref_2object(\$v)->FLAGS;
    return 'string' if $flags & B::SVf_POK;
    return 'integer' if $flags & B::SVf_IOK;
    return ($v == int $v) ? 'integer' : 'number' if $flags & B::SVf_NOK;
    return 'string';
}

sub validate {
    my ($schema, $v, $at, $errors) = @_;
    $schema = resolve($schema);
    my $kind = kind_of($v);
    if ($kind eq 'null') {
        push @$errors, "$at: null where not nullable"
            unless $schema->{nullable};
        return;
    }
    if (my $type = $schema->{type}) {
        my $ok = $kind eq $type
              || ($type eq 'number' && $kind eq 'integer');
        if (!$ok) {
            push @$errors, "$at: a $kind, not a $type";
            return;
        }
    }
    if ($schema->{enum} && !grep { $_ eq $v } @{ $schema->{enum} }) {
        push @$errors, "$at: '$v' is not one of the enum";
    }
    if ($kind eq 'string') {
        my $n = length $v;
        push @$errors, "$at: shorter than $schema->{minLength}"
            if defined $schema->{minLength} && $n < $schema->{minLength};
        push @$errors, "$at: longer than $schema->{maxLength}"
            if defined $schema->{maxLength} && $n > $schema->{maxLength};
        if (defined(my $p = $schema->{pattern})) {
            push @$errors, "$at: '$v' does not match $p" if $v !~ /$p/;
        }
    }
    if ($kind eq 'integer' || $kind eq 'number') {
        push @$errors, "$at: below $schema->{minimum}"
            if defined $schema->{minimum} && $v < $schema->{minimum};
        push @$errors, "$at: above $schema->{maximum}"
            if defined $schema->{maximum} && $v > $schema->{maximum};
    }
    if ($kind eq 'object') {
        my $props = $schema->{properties} // {};
        for my $k (@{ $schema->{required} // [] }) {
            push @$errors, "$at: $k is missing" unless exists $v->{$k};
        }
        for my $k (sort keys %$v) {
            if ($props->{$k}) {
                validate($props->{$k}, $v->{$k}, "$at.$k", $errors);
            } elsif (ref $schema->{additionalProperties} eq 'HASH') {
                validate($schema->{additionalProperties}, $v->{$k}, "$at.$k",
                         $errors);
            } elsif (defined $schema->{additionalProperties}
                     && !$schema->{additionalProperties}) {
                push @$errors, "$at: $k is not documented";
            }
        }
    }
    if ($kind eq 'array' && $schema->{items}) {
        validate($schema->{items}, $v->[$_], "$at\[$_\]", $errors)
            for 0 .. $#$v;
    }
}

# answer_ok($r, METHOD, '/path/{template}', $name): the status is one the
# operation documents, and the body has the schema of that status
sub answer_ok {
    my ($r, $method, $path, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $op = $doc->{paths}{$path}{ lc $method };
    my $resp = $op && $op->{responses}{ $r->{status} };
    ok($resp, "$name: $r->{status} is documented for $method $path")
        or return diag(substr $r->{raw}, 0, 300);
    $resp = resolve($resp);
    my $content = $resp->{content} // {};
    my $schema = $content->{'application/json'}
                 && $content->{'application/json'}{schema};
    if (!$schema) {
        my @types = sort keys %$content;
        if (@types) {
            my $type = $r->{headers}{'content-type'} // '';
            ok(scalar(grep { $_ eq $type } @types),
               "$name: a documented type ($type)");
        } else {
            is($r->{raw}, '', "$name: no body, as documented");
        }
        return;
    }
    # decoded afresh: numbers and strings keep their JSON kinds
    my $json = eval { JSON::PP->new->utf8->allow_nonref->decode($r->{raw}) };
    my @errors;
    if (!defined $json) {
        @errors = ('not JSON');
    } else {
        validate($schema, $json, '$', \@errors);
    }
    is_deeply(\@errors, [], "$name: the documented shape")
        or diag(substr $r->{raw}, 0, 600);
}

# ---------------------------------------------------------------------
# (b) every documented operation is served

my %sample = (pos => '123456789012', id => '123456789012');
for my $o (@ops) {
    my ($method, $path, $op) = @$o;
    my $name = uc($method) . " $path";
    my $url = $path;
    my $pr = $path =~ m{/payment-requests/\{id\}};
    $url =~ s/\{(\w+)\}/$1 eq 'id' && $pr ? 'pr_' . '0' x 24 : $sample{$1}/ge;
    my $body = $op->{requestBody} ? {} : undef;

    my @tries = (['no credential', api(uc $method => $url, $body)]);
    if ($path =~ m{^/ops/}) {
        push @tries, ['the ops token', ops(uc $method => $url, $body)];
    }
    for my $t (@tries) {
        my ($how, $r) = @$t;
        my $err = ref $r->{json} eq 'HASH' ? $r->{json}{error} : undef;
        ok($r->{status} != 405
           && !($r->{status} == 404 && ref $err eq 'HASH'
                && ($err->{message} // '') eq 'No such resource.')
           && $r->{status} < 500,
           "(b) $name with $how is served: $r->{status}"
           . (ref $err eq 'HASH' ? " $err->{code}" : ''))
            or diag(substr $r->{raw}, 0, 300);
        answer_ok($r, $method, $path, "(b) $name with $how");
    }
}

# ---------------------------------------------------------------------
# What the server sends, against the documented shapes

client_ip('192.0.2.40');

my $r = api(GET => '/api/v1/health');
answer_ok($r, GET => '/api/v1/health', 'health');

my $conv = { name => 'OpenAPI ' . unique_digits(4),
             email => unique_email('oa'), password => new_password() };
$r = ops(POST => '/ops/v1/conventions', $conv);
answer_ok($r, POST => '/ops/v1/conventions', 'a convention');
$conv->{id} = $r->{json}{id};

my $pos = new_pos($conv->{id}, category => 'leisure_and_culture');
my $ben = new_beneficiary(balance => 50_000);

$r = ops(POST => "/ops/v1/beneficiaries/$ben->{id}/credits",
         { amount => 1000 });
answer_ok($r, POST => '/ops/v1/beneficiaries/{id}/credits', 'a credit');
$r = ops(POST => '/ops/v1/beneficiaries', { email => $ben->{email},
         password => new_password(), payment_code => '123456' });
answer_ok($r, POST => '/ops/v1/beneficiaries', 'an e-mail taken (409)');
$r = ops(PUT => '/ops/v1/clock', { now => 'tomorrow' });
answer_ok($r, PUT => '/ops/v1/clock', 'a bad clock (422)');

$r = merchant_login_r($conv->{id}, $conv->{password});
answer_ok($r, POST => '/api/v1/merchant/sessions', 'an admin login');
my $admin = $r->{json}{token};
$r = merchant_login_r($pos->{id}, $pos->{password});
answer_ok($r, POST => '/api/v1/merchant/sessions', 'a point of sale login');
my $seller = $r->{json}{token};
$r = merchant_login_r($pos->{id}, 'not-the-password');
answer_ok($r, POST => '/api/v1/merchant/sessions', 'a wrong password (401)');
merchant_login($pos->{id}, $pos->{password});  # the count starts again

$r = api_as($admin, GET => '/api/v1/merchant/me');
answer_ok($r, GET => '/api/v1/merchant/me', 'merchant/me');
$r = api(GET => '/api/v1/merchant/me');
answer_ok($r, GET => '/api/v1/merchant/me', 'merchant/me, nobody (401)');
$r = api_as($admin, GET => '/api/v1/points-of-sale');
answer_ok($r, GET => '/api/v1/points-of-sale', 'points of sale');

my $keys = "/api/v1/points-of-sale/$pos->{id}/api-keys";
$r = api_as($admin, POST => $keys, { name => 'OpenAPI site' });
answer_ok($r, POST => '/api/v1/points-of-sale/{pos}/api-keys', 'a new key');
remember_secret($r->{json}{secret}, 'api_key');
my $key = $r->{json}{secret};
$r = api_as($admin, GET => $keys);
answer_ok($r, GET => '/api/v1/points-of-sale/{pos}/api-keys', 'the keys');
$r = api_as($key, GET => '/api/v1/merchant/me');
answer_ok($r, GET => '/api/v1/merchant/me', 'an API key where not taken '
          . '(403)');

my $hook = "/api/v1/points-of-sale/$pos->{id}/webhook";
$r = api_as($seller, GET => $hook);
answer_ok($r, GET => '/api/v1/points-of-sale/{pos}/webhook', 'no webhook '
          . '(404)');
$r = api_as($seller, PUT => $hook, { url => 'http://' . webhook_host() . ':9/hook' });
answer_ok($r, PUT => '/api/v1/points-of-sale/{pos}/webhook', 'a webhook');
remember_secret($r->{json}{secret}, 'webhook_secret');
$r = api_as($seller, GET => $hook);
answer_ok($r, GET => '/api/v1/points-of-sale/{pos}/webhook', 'the webhook');

my $today = paris_date(time);
$r = create_request($key, { mode => 'immediate', amount => 1234,
                            basket_number => unique_basket('OA'),
                            customer => $ben->{id}, label => 'Séjour' });
answer_ok($r, POST => '/api/v1/payment-requests', 'an immediate request');
my $now_pr = $r->{json};

$r = api_as($seller, GET => "$hook/deliveries");
answer_ok($r, GET => '/api/v1/points-of-sale/{pos}/webhook/deliveries',
          'the deliveries');
my ($delivery) = @{ $r->{json}{data} // [] };
ok($delivery, 'a delivery of payment_request.created');
$r = api_as($seller, POST => "$hook/deliveries/"
            . ($delivery ? $delivery->{id} : 0) . '/retry');
answer_ok($r, POST =>
          '/api/v1/points-of-sale/{pos}/webhook/deliveries/{id}/retry',
          'a retry');
$r = api_as($seller, POST => "$hook/deliveries/999999999/retry");
answer_ok($r, POST =>
          '/api/v1/points-of-sale/{pos}/webhook/deliveries/{id}/retry',
          'no such delivery (404)');
$r = api_as($seller, DELETE => $hook);
answer_ok($r, DELETE => '/api/v1/points-of-sale/{pos}/webhook',
          'no more webhook');
$r = create_request($admin, { point_of_sale => $pos->{id},
                              mode => 'deferred', pay_by => $today,
                              validation_delay_days => 2, amount => 4000,
                              allow_partial => JSON::PP::true,
                              basket_number => unique_basket('OA'),
                              customer => $ben->{email},
                              notify_email => 'notify@example.fr' },
                    'Idempotency-Key' => 'oa-' . unique_digits(8));
answer_ok($r, POST => '/api/v1/payment-requests', 'a pre-reservation');
my $resa = $r->{json};
$r = create_request($seller, { mode => 'immediate', amount => '40',
                               basket_number => '', customer => 'x',
                               colour => 'blue' });
answer_ok($r, POST => '/api/v1/payment-requests', 'bad fields (422)');
$r = create_request($seller, { mode => 'immediate', amount => 1,
                               basket_number => $now_pr->{basket_number},
                               customer => $ben->{id} });
answer_ok($r, POST => '/api/v1/payment-requests', 'a live basket (409)');

$r = api_as($seller, GET => '/api/v1/payment-requests?limit=1');
answer_ok($r, GET => '/api/v1/payment-requests', 'the operations list');
$r = api_as($admin, GET => '/api/v1/payment-requests?status=nope');
answer_ok($r, GET => '/api/v1/payment-requests', 'a bad status (400)');
$r = api_as($seller, GET => "/api/v1/payment-requests/$resa->{id}");
answer_ok($r, GET => '/api/v1/payment-requests/{id}', 'a request and its '
          . 'events');
$r = api_as($seller, GET => '/api/v1/payment-requests/pr_' . '0' x 24);
answer_ok($r, GET => '/api/v1/payment-requests/{id}', 'no such request '
          . '(404)');
$r = api_as($seller, GET => "/api/v1/business-days?from=$today&add=3");
answer_ok($r, GET => '/api/v1/business-days', 'business days');
$r = api_as($seller, GET => '/api/v1/business-days?from=x&add=3');
answer_ok($r, GET => '/api/v1/business-days', 'a bad day (400)');
$r = api_as($seller, POST => "/api/v1/payment-requests/$resa->{id}/confirm");
answer_ok($r, POST => '/api/v1/payment-requests/{id}/confirm',
          'not yet paid (409)');

$r = customer_login_r($ben->{email}, $ben->{password});
answer_ok($r, POST => '/api/v1/customer/sessions', 'a customer login');
my $cust = $r->{json}{token};
$r = api_as($cust, GET => '/api/v1/customer/me');
answer_ok($r, GET => '/api/v1/customer/me', 'customer/me');
$r = api_as($cust, GET => '/api/v1/customer/payment-requests');
answer_ok($r, GET => '/api/v1/customer/payment-requests', 'my requests');
$r = api_as($cust, GET => '/api/v1/merchant/me');
answer_ok($r, GET => '/api/v1/merchant/me', 'a customer as a merchant '
          . '(403)');
$r = pay_request($cust, $resa->{id}, '000000');
answer_ok($r, POST => '/api/v1/customer/payment-requests/{id}/pay',
          'a wrong code (403)') unless $ben->{payment_code} eq '000000';
$r = pay_request($cust, $resa->{id}, $ben->{payment_code}, amount => 3000);
answer_ok($r, POST => '/api/v1/customer/payment-requests/{id}/pay',
          'a partial payment');
$r = api_as($cust, POST => "/api/v1/customer/payment-requests/$now_pr->{id}"
            . '/refuse');
answer_ok($r, POST => '/api/v1/customer/payment-requests/{id}/refuse',
          'a refusal');
$r = api_as($seller, POST => "/api/v1/payment-requests/$resa->{id}/confirm");
answer_ok($r, POST => '/api/v1/payment-requests/{id}/confirm', 'confirmed');
$r = api_as($seller, POST => "/api/v1/payment-requests/$resa->{id}/cancel");
answer_ok($r, POST => '/api/v1/payment-requests/{id}/cancel',
          'too late to cancel (409)');
$r = api_as($key, GET => '/api/v1/payouts');
answer_ok($r, GET => '/api/v1/payouts', 'the payouts');
my ($payout) = @{ $r->{json}{data} // [] };
ok($payout, 'the confirmation made a payout');
$payout //= { id => 0 };
$r = api_as($seller, GET => "/api/v1/payouts/$payout->{id}");
answer_ok($r, GET => '/api/v1/payouts/{id}', 'a payout');
$r = api_as($seller, GET => "/api/v1/payouts/$payout->{id}/export?format=csv");
answer_ok($r, GET => '/api/v1/payouts/{id}/export', 'its CSV');
$r = api_as($seller, GET => '/api/v1/payouts/999999999');
answer_ok($r, GET => '/api/v1/payouts/{id}', 'no such payout (404)');
$r = api_as($seller, GET => '/api/v1/payouts?limit=5');
answer_ok($r, GET => '/api/v1/payouts', 'not paged (400)');
$r = api_as($seller, GET => '/api/v1/payment-requests/export?format=xlsx');
answer_ok($r, GET => '/api/v1/payment-requests/export', 'the XLSX');

$r = api_as($cust, GET => '/api/v1/customer/transactions');
answer_ok($r, GET => '/api/v1/customer/transactions', 'wallet history');
$r = api_as($cust, GET => '/api/v1/customer/notifications');
answer_ok($r, GET => '/api/v1/customer/notifications', 'notifications');
$r = api_as($cust, GET => '/api/v1/customer/notifications?cursor=zz');
answer_ok($r, GET => '/api/v1/customer/notifications', 'a bad cursor (400)');
$r = api_as($cust, GET => '/api/v1/customer/notifications?limit=1');
answer_ok($r, GET => '/api/v1/customer/notifications', 'a page of one');
my $next = $r->{json}{next_cursor};
ok(defined $next, 'a next page');
$r = api_as($cust, GET => '/api/v1/customer/notifications?limit=1&cursor='
            . ($next // ''));
answer_ok($r, GET => '/api/v1/customer/notifications', 'the next page');
$r = api_as($cust, DELETE => '/api/v1/customer/sessions/current');
answer_ok($r, DELETE => '/api/v1/customer/sessions/current', 'logout');

done_testing;
