-- POST /api/v1/customer/payment-requests/{id}/pay: the payment code's
-- state, then the payment (the code itself is checked by scrypt in the
-- module's thread pool, the strikes in Redis: no SQL), on this client's
-- next request of the pool
\set n :first + :client_id + :clients * :k
\set k :k + 1
select cvc.payment_code_state((select customer from bench.pool where kind = 'pgb_pay' and n = :n));
select cvc.pr_pay((select customer from bench.pool where kind = 'pgb_pay' and n = :n), (select id from bench.pool where kind = 'pgb_pay' and n = :n), null, '127.0.0.1', 'pgbench');
