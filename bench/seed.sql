-- make bench: what the scenarios need, made through the API's own
-- functions (as cvc_owner, on the bench's throw-away stack only), so that
-- every row, wallet and ledger entry is what the gateway itself would have
-- written.  bench.pool lists the rows each scenario walks; the gateway's
-- role cvc may read it (pgbench connects as cvc).

create schema if not exists bench;

create table if not exists bench.pool (
    kind      text not null,        -- e.g. big, wrk_confirm, pgb_pay
    n         int not null,         -- 1, 2, ... in each kind
    id        text not null,        -- a payment request, an account, a key
    customer  text,                 -- its beneficiary (a key: its SHA-256)
    pos       text,                 -- its point of sale
    primary key (kind, n)
);

-- pgbench takes the next request of its pools by these, all its clients
-- alike, so that no row is skipped
create sequence if not exists bench.pgb_pay;
create sequence if not exists bench.pgb_confirm;
create sequence if not exists bench.pgb_cancel;

grant usage on schema bench to cvc;
grant select on bench.pool to cvc;
grant usage on all sequences in schema bench to cvc;


-- the accounts: beneficiaries 777xxxxxxxx (they pay) and 778xxxxxxxx (they
-- log in), points of sale 7777771xxxxx of convention 777777 (they create,
-- confirm and cancel); with the password hashes of the template
-- beneficiary 77700000000 and point of sale 777777000001, made through the
-- ops API, so that no scrypt runs here
create or replace procedure bench.make_accounts(p_customers int,
                                                p_merchants int)
language plpgsql as $$
declare
    b cvc.beneficiaries;
    v_hash text;
    v_id text;
    v_prefix text;
    i int;
begin
    select * into strict b from cvc.beneficiaries where id = '77700000000';
    select password_hash into strict v_hash from cvc.points_of_sale
    where id = '777777000001';

    foreach v_prefix in array array['777', '778'] loop
        for i in 1 .. p_customers loop
            v_id := v_prefix || lpad(i::text, 8, '0');
            if not exists (select 1 from cvc.beneficiaries where id = v_id)
            then
                perform cvc.create_beneficiary(v_id,
                    'c' || v_id || '@bench.test', b.password_hash,
                    b.payment_code_hash, 1000000000, '127.0.0.1',
                    'bench-seed');
            end if;
        end loop;
    end loop;

    for i in 1 .. p_merchants loop
        v_id := '7777771' || lpad(i::text, 5, '0');
        if not exists (select 1 from cvc.points_of_sale where id = v_id) then
            perform cvc.create_point_of_sale('777777', v_id, 'Bench ' || i,
                'p' || v_id || '@bench.test', 'accommodation', v_hash,
                '127.0.0.1', 'bench-seed');
        end if;
    end loop;

    insert into bench.pool (kind, n, id)
    select 'customer', g, '777' || lpad(g::text, 8, '0')
    from generate_series(1, p_customers) g
    union all
    select 'login', g, '778' || lpad(g::text, 8, '0')
    from generate_series(1, p_customers) g
    union all
    select 'merchant', g, '7777771' || lpad(g::text, 5, '0')
    from generate_series(1, p_merchants) g
    on conflict do nothing;
end
$$;


/*
 * p_count payment requests of point of sale p_pos (null: of the
 * p_merchants points of sale 7777771... in turn), numbered p_first.. in
 * pool p_kind, for the p_customers customers 777... in turn, each in its
 * own transaction, left in state p_state:
 * awaiting_payment (deferred, payable for 30 days), to_validate (a
 * pre-reservation of 6 business days, paid) or mix (4 in 10 awaiting, 3
 * validated, 1 to_validate, 1 cancelled, 1 refused).
 */
create or replace procedure bench.make_requests(p_kind text, p_pos text,
    p_merchants int, p_customers int, p_first int, p_count int,
    p_state text)
language plpgsql as $$
declare
    i int;
    r jsonb;
    v_customer text;
    v_pos text;
    v_state text;
    v_pay_by text := (cvc.paris_date(cvc.now()) + 30)::text;
begin
    for i in p_first .. p_first + p_count - 1 loop
        v_customer := '777' || lpad((1 + i % p_customers)::text, 8, '0');
        v_pos := coalesce(p_pos, '7777771'
                                 || lpad((1 + i % p_merchants)::text, 5, '0'));
        v_state := case when p_state <> 'mix' then p_state
                        else (array['awaiting_payment', 'validated',
                                    'awaiting_payment', 'validated',
                                    'to_validate', 'awaiting_payment',
                                    'validated', 'cancelled',
                                    'awaiting_payment', 'refused'])[1 + i % 10]
                   end;

        -- the wallet first: pr_create takes a key share of it and pr_pay
        -- its update, so that two seeding sessions on one customer would
        -- deadlock
        perform 1 from cvc.beneficiaries where id = v_customer for update;

        r := cvc.pr_create('point_of_sale', v_pos,
                 jsonb_build_object(
                     'mode', 'deferred', 'pay_by', v_pay_by,
                     'amount', 1000 + (i * 37) % 49000,
                     'basket_number', p_kind || '-' || i,
                     'customer', v_customer,
                     'label', 'Séjour ' || i,
                     'validation_delay_days',
                     case when v_state = 'to_validate' then 6 else 0 end),
                 null, null, '15 minutes', 'cancel', '127.0.0.1',
                 'bench-seed');

        if v_state in ('validated', 'to_validate') then
            perform cvc.pr_pay(v_customer, r->>'id', null, '127.0.0.1',
                               'bench-seed');
        elsif v_state = 'cancelled' then
            perform cvc.pr_cancel('point_of_sale', v_pos, r->>'id',
                                  '127.0.0.1', 'bench-seed');
        elsif v_state = 'refused' then
            perform cvc.pr_refuse(v_customer, r->>'id', '127.0.0.1',
                                  'bench-seed');
        end if;

        insert into bench.pool (kind, n, id, customer, pos)
        values (p_kind, i, r->>'id', v_customer, v_pos);
        commit;
    end loop;
end
$$;


-- what the seeding (or the scenario before) queued: as sent, so that
-- deliveries of old e-mails don't load the next scenario
create or replace procedure bench.outbox_drop()
language sql as $$
    update cvc.outbox set sent_at = cvc.now() where sent_at is null
$$;
