-- GET /api/v1/payment-requests (no filter, no cursor, 20 a page) of the
-- point of sale holding the bench's many requests
select cvc.pr_list('point_of_sale', '777777000001', '{}'::jsonb, null, '20'::int);
