-- POST /api/v1/payment-requests/{id}/confirm (the session itself is in
-- Redis: no SQL), on the next pre-reservation of the pool
-- (bench.pgb_confirm numbers them for all the clients)
select cvc.pr_confirm('point_of_sale', p.pos, p.id, '127.0.0.1', 'pgbench') from bench.pool p where p.kind = 'pgb_confirm' and p.n = (select nextval('bench.pgb_confirm'));
