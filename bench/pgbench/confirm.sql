-- POST /api/v1/payment-requests/{id}/confirm: what the module sends (the
-- session itself is in Redis), on the next request of this client in the
-- pool; the id is read from bench.pool where the module has it in its URL
\set n :first + :client_id + :clients * :k
\set k :k + 1
select cvc.pr_confirm('point_of_sale', (select pos from bench.pool where kind = 'pgb_confirm' and n = :n), (select id from bench.pool where kind = 'pgb_confirm' and n = :n), '127.0.0.1', 'pgbench');
