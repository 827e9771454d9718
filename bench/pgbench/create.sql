-- POST /api/v1/payment-requests: the body as the module passes it (its
-- keys sorted), a new basket number each time, for the points of sale of
-- the bench in turn; 900000 milliseconds is the dev conf's pay window
\set k :k + 1
\set m 1 + (:client_id + :clients * :k) % :merchants
select cvc.pr_create('point_of_sale', (select id from bench.pool where kind = 'merchant' and n = :m), ('{"amount":4000,"basket_number":"pgb-' || :run || '-' || :client_id || '-' || :k || '","customer":"77700000000","mode":"immediate"}')::jsonb, null, null, '900000 milliseconds'::interval, 'cancel', '127.0.0.1', 'pgbench');
