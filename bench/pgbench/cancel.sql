-- POST /api/v1/payment-requests/{id}/cancel (a paid pre-reservation: the
-- customer is re-credited), on this client's next request of the pool
\set n :first + :client_id + :clients * :k
\set k :k + 1
select cvc.pr_cancel('point_of_sale', (select pos from bench.pool where kind = 'pgb_cancel' and n = :n), (select id from bench.pool where kind = 'pgb_cancel' and n = :n), '127.0.0.1', 'pgbench');
