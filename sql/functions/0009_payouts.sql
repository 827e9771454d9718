-- Payouts: the requests a point of sale has validated in a business day
-- are paid to it in one payout, 5 business days later, by a timer; the
-- merchant lists them and exports their reconciliation.


create or replace function cvc.payout_add(p cvc.payment_requests)
returns void language plpgsql as $$
declare
    v_day date := cvc.paris_date(p.validated_at);
    v_id bigint;
begin
    insert into cvc.payouts (point_of_sale_id, business_date, scheduled_for,
                             amount, count)
    values (p.point_of_sale_id, v_day, cvc.add_business_days(v_day, 5),
            p.amount_received, 1)
    on conflict (point_of_sale_id, business_date) do update
        set amount = cvc.payouts.amount + excluded.amount,
            count = cvc.payouts.count + 1
    returning id into v_id;

    update cvc.payment_requests set payout_id = v_id where id = p.id;
end
$$;

comment on function cvc.payout_add(cvc.payment_requests) is
    'A validated request joins the payout of its point of sale and day.';


create or replace function cvc.payout_json(o cvc.payouts) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', o.id::text, 'point_of_sale', o.point_of_sale_id,
        'business_date', to_char(o.business_date, 'YYYY-MM-DD'),
        'amount', o.amount, 'count', o.count,
        'scheduled_for', to_char(o.scheduled_for, 'YYYY-MM-DD'),
        'status', o.status, 'paid_at', cvc.time_json(o.paid_at))
$$;

comment on function cvc.payout_json(cvc.payouts) is
    'A payout as the API shows it.';


-- timer: the day has come; the money moves from pending to paid
create or replace function cvc.payout_pay(p_id bigint)
returns jsonb language plpgsql as $$
declare
    o cvc.payouts;
begin
    select * into o from cvc.payouts where id = p_id for update;

    if o.status is distinct from 'scheduled'
       or cvc.now() < cvc.start_of_day(o.scheduled_for)
    then
        return null;
    end if;

    if o.amount > 0 then
        perform cvc.ledger_move('payout', 'merchant_pending:'
                                || o.point_of_sale_id,
                                'merchant_paid:' || o.point_of_sale_id,
                                o.amount, null, o.id);
    end if;

    update cvc.payouts set status = 'paid', paid_at = cvc.now()
    where id = o.id returning * into o;

    perform cvc.webhook_event(o.point_of_sale_id, 'payout.paid',
                              cvc.payout_json(o));

    return cvc.payout_json(o);
end
$$;

comment on function cvc.payout_pay(bigint) is
    'Timer: a payout is paid on its day (payout.paid webhook).';


create or replace function cvc.payouts_list(p_kind text, p_id text,
    p_filters jsonb)
returns jsonb language plpgsql stable as $$
begin
    if p_filters->>'point_of_sale' is not null
       and not cvc.can_reach(p_kind, p_id, p_filters->>'point_of_sale')
    then
        perform cvc.fail(404, 'not_found', 'No such point of sale.');
    end if;

    return jsonb_build_object('data', coalesce((
        select jsonb_agg(cvc.payout_json(o)
                         order by o.business_date desc, o.id desc)
        from cvc.payouts o
        where o.point_of_sale_id in (select cvc.scope_pos(p_kind, p_id))
          and (p_filters->>'point_of_sale' is null
               or o.point_of_sale_id = p_filters->>'point_of_sale')
          and (p_filters->>'from' is null
               or o.business_date >= (p_filters->>'from')::date)
          and (p_filters->>'to' is null
               or o.business_date <= (p_filters->>'to')::date)), '[]'),
        'next_cursor', null);
end
$$;

comment on function cvc.payouts_list(text, text, jsonb) is
    'GET /api/v1/payouts: newest business day first.';


create or replace function cvc.payout_get(p_kind text, p_id text,
                                          p_payout text)
returns jsonb language plpgsql stable as $$
declare
    o cvc.payouts;
begin
    select * into o from cvc.payouts
    where p_payout ~ '^[0-9]{1,18}$' and id = p_payout::bigint;

    if o.id is null or not cvc.can_reach(p_kind, p_id, o.point_of_sale_id)
    then
        perform cvc.fail(404, 'not_found', 'No such payout.');
    end if;

    return cvc.payout_json(o) || jsonb_build_object('payment_requests',
        coalesce((select jsonb_agg(cvc.pr_json(p)
                                   order by p.validated_at, p.id)
                  from cvc.payment_requests p where p.payout_id = o.id),
                 '[]'));
end
$$;

comment on function cvc.payout_get(text, text, text) is
    'GET /api/v1/payouts/{id}: the payout and its requests.';


-- the reconciliation file: one line per request, then the total
create or replace function cvc.payout_export(p_kind text, p_id text,
                                             p_payout text)
returns table (validated text, basket_number text, type text,
               amount_received bigint, customer text, label text,
               id text)
language plpgsql stable as $$
declare
    v jsonb := cvc.payout_get(p_kind, p_id, p_payout);
begin
    return query
        select cvc.time_fr(p.validated_at), p.basket_number,
               cvc.type_fr(cvc.pr_type(p)), p.amount_received, p.customer,
               p.label, p.id
        from cvc.payment_requests p
        where p.payout_id = (v->>'id')::bigint
        order by p.validated_at, p.id;

    return query
        select 'Total', null::text, null::text, (v->>'amount')::bigint,
               null::text, (v->>'count') || ' paiement(s)',
               'Remboursement du ' || to_char((v->>'scheduled_for')::date,
                                              'DD/MM/YYYY');
end
$$;

comment on function cvc.payout_export(text, text, text) is
    'GET /api/v1/payouts/{id}/export: the reconciliation.';
