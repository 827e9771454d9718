-- POST /api/v1/payment-requests/{id}/cancel (a paid pre-reservation: the
-- customer is re-credited), on the next one of the pool
-- (bench.pgb_cancel numbers them for all the clients)
select cvc.pr_cancel('point_of_sale', p.pos, p.id, '127.0.0.1', 'pgbench') from bench.pool p where p.kind = 'pgb_cancel' and p.n = (select nextval('bench.pgb_cancel'));
