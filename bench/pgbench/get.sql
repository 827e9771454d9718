-- GET /api/v1/payment-requests/{id}: a request of the big point of sale
\set n random(1, :rows)
select cvc.pr_get('point_of_sale', '777777000001', (select id from bench.pool where kind = 'big' and n = :n));
