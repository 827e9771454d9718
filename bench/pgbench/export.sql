-- GET /api/v1/payment-requests/export?format=csv as an API key: the key's
-- check, then every row (the module reads them in single-row mode, in its
-- thread pool, and writes the CSV)
\set n random(1, :keys)
select cvc.api_key_auth((select customer from bench.pool where kind = 'api_key' and n = :n));
select * from cvc.pr_export('api_key', (select id from bench.pool where kind = 'api_key' and n = :n), '{}'::jsonb);
