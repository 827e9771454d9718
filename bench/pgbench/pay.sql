-- POST /api/v1/customer/payment-requests/{id}/pay: the payment code's
-- state, then the payment (the code itself is checked by scrypt in the
-- module's thread pool, the strikes in Redis: no SQL), on the next request
-- of the pool (bench.pgb_pay numbers them for all the clients)
select cvc.payment_code_state(p.customer) from bench.pool p where p.kind = 'pgb_pay' and p.n = (select nextval('bench.pgb_pay'));
select cvc.pr_pay(p.customer, p.id, null, '127.0.0.1', 'pgbench') from bench.pool p where p.kind = 'pgb_pay' and p.n = (select currval('bench.pgb_pay'));
