-- POST /api/v1/customer/sessions: the account, then the login recorded
-- (the password is checked by scrypt in the module's thread pool, the
-- session made in Redis: no SQL)
\set n random(1, :customers)
select cvc.login_find('customer', (select id from bench.pool where kind = 'login' and n = :n));
select cvc.login_succeeded('customer', (select id from bench.pool where kind = 'login' and n = :n), '127.0.0.1', 'pgbench');
