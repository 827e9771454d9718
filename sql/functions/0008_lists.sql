-- Lists: the operations list with its filters and counts, the customer's
-- requests, wallet history and notifications.  Keyset pagination: a
-- cursor is the (time, id) of the last row of a page, opaque to callers.


create or replace function cvc.cursor_encode(p_at timestamptz, p_id text)
returns text language sql immutable as $$
    select rtrim(translate(encode(convert_to(
               (extract(epoch from p_at) * 1000000)::bigint::text
               || '|' || p_id, 'UTF8'), 'base64'), '+/' || chr(10), '-_'),
           '=')
$$;

comment on function cvc.cursor_encode(timestamptz, text) is
    'The next_cursor after a row.';


create or replace function cvc.cursor_decode(p_cursor text,
    out at timestamptz, out id text)
language plpgsql immutable as $$
declare
    v text;
begin
    if p_cursor is null then
        return;
    end if;

    begin
        v := convert_from(decode(translate(p_cursor, '-_', '+/')
                                 || repeat('=', (4 - length(p_cursor) % 4) % 4),
                                 'base64'), 'UTF8');
        at := timestamptz 'epoch'
              + split_part(v, '|', 1)::bigint * interval '1 microsecond';
        id := split_part(v, '|', 2);
    exception
        when others then
            at := null;
    end;

    if at is null or id = '' then
        perform cvc.fail(400, 'invalid_parameter',
                         'cursor is not one this API gave.');
    end if;
end
$$;

comment on function cvc.cursor_decode(text) is
    'The (time, id) a cursor stands for; 400 for a cursor of nowhere.';


-- the points of sale an API caller reaches
create or replace function cvc.scope_pos(p_kind text, p_id text)
returns setof text language sql stable as $$
    select id from cvc.points_of_sale
    where (p_kind = 'admin' and convention_id = p_id)
       or (p_kind = 'point_of_sale' and id = p_id)
       or (p_kind = 'api_key'
           and id = (select point_of_sale_id from cvc.api_keys
                     where id = p_id))
$$;

comment on function cvc.scope_pos(text, text) is
    'The points of sale whose requests a merchant or API key sees.';


/*
 * The requests of the operations list (and of its export): p_filters is
 * {"point_of_sale", "status": [...], "type", "basket_number", "from",
 * "to", "min_amount", "max_amount"}, checked by the module.
 *
 * Fast at millions of rows per point of sale: each point of sale's rows
 * come from its own walk of the index (point_of_sale_id, last_action_at
 * desc, id desc), stopped at p_limit, and the walks are merged; the plan is
 * made for each call's values (force_custom_plan), so the filters not
 * given fold away and the cursor is an index condition.
 */
create or replace function cvc.pr_filtered(p_kind text, p_id text,
    p_filters jsonb, p_after_at timestamptz, p_after_id text, p_limit int)
returns setof cvc.payment_requests language plpgsql stable
set plan_cache_mode = force_custom_plan as $$
declare
    v_pos text[] := array(select cvc.scope_pos(p_kind, p_id)
                          where p_filters->>'point_of_sale' is null
                          union
                          select p_filters->>'point_of_sale'
                          where p_filters->>'point_of_sale' is not null
                            and cvc.can_reach(p_kind, p_id,
                                              p_filters->>'point_of_sale'));
    v_status cvc.pr_status[] := case when p_filters ? 'status' then
        array(select jsonb_array_elements_text(p_filters->'status'))::
            cvc.pr_status[] end;
    v_type text := p_filters->>'type';
    v_basket text := p_filters->>'basket_number';
    v_from timestamptz := cvc.start_of_day((p_filters->>'from')::date);
    v_to timestamptz := cvc.start_of_day((p_filters->>'to')::date + 1);
    v_min bigint := (p_filters->>'min_amount')::bigint;
    v_max bigint := (p_filters->>'max_amount')::bigint;
    v_limit bigint := coalesce(p_limit, 9223372036854775807);
begin
    return query
        select r.* from unnest(v_pos) as s(pos)
        cross join lateral (
            select p.* from cvc.payment_requests p
            where p.point_of_sale_id = s.pos
              and (v_status is null or p.status = any(v_status))
              and (v_type is null
                   or (v_type = 'pre_reservation'
                       and p.validation_delay_days > 0)
                   or (v_type = 'immediate_payment'
                       and p.validation_delay_days = 0
                       and p.mode = 'immediate')
                   or (v_type = 'deferred_payment'
                       and p.validation_delay_days = 0
                       and p.mode = 'deferred'))
              and (v_basket is null or p.basket_number = v_basket)
              and (v_from is null or p.last_action_at >= v_from)
              and (v_to is null or p.last_action_at < v_to)
              and (v_min is null or p.amount >= v_min)
              and (v_max is null or p.amount <= v_max)
              and (p_after_at is null
                   or (p.last_action_at, p.id) < (p_after_at, p_after_id))
            order by p.last_action_at desc, p.id desc
            limit v_limit) r
        order by r.last_action_at desc, r.id desc
        limit v_limit;
end
$$;

comment on function cvc.pr_filtered(text, text, jsonb, timestamptz, text,
                                    int)
    is 'The operations list''s rows, newest last action first.';


create or replace function cvc.pr_list(p_kind text, p_id text,
    p_filters jsonb, p_cursor text, p_limit int)
returns jsonb language plpgsql stable as $$
declare
    c record := cvc.cursor_decode(p_cursor);
    r cvc.payment_requests;
    v_last cvc.payment_requests;
    v_data jsonb := '[]';
    v_counts jsonb;
    n int := 0;
begin
    if p_filters->>'point_of_sale' is not null
       and not cvc.can_reach(p_kind, p_id, p_filters->>'point_of_sale')
    then
        perform cvc.fail(404, 'not_found', 'No such point of sale.');
    end if;

    for r in select * from cvc.pr_filtered(p_kind, p_id, p_filters, c.at,
                                           c.id, p_limit + 1)
    loop
        n := n + 1;
        exit when n > p_limit;
        v_data := v_data || jsonb_build_array(cvc.pr_json(r));
        v_last := r;
    end loop;

    -- "A valider" and "En attente de paiement client", whatever the filters
    select jsonb_build_object(
               'to_validate', count(*) filter (where status = 'to_validate'),
               'awaiting_payment',
               count(*) filter (where status = 'awaiting_payment'))
    into v_counts
    from cvc.payment_requests
    where point_of_sale_id = any(array(
              select cvc.scope_pos(p_kind, p_id)
              where p_filters->>'point_of_sale' is null
              union
              select p_filters->>'point_of_sale'))
      and status in ('to_validate', 'awaiting_payment');

    return jsonb_build_object(
        'data', v_data,
        'next_cursor', case when n > p_limit
                            then cvc.cursor_encode(v_last.last_action_at,
                                                   v_last.id) end,
        'counts', v_counts);
end
$$;

comment on function cvc.pr_list(text, text, jsonb, text, int) is
    'GET /api/v1/payment-requests: a page, the next cursor, the counts.';


create or replace function cvc.customer_prs(p_customer text,
    p_statuses jsonb, p_cursor text, p_limit int)
returns jsonb language plpgsql stable as $$
declare
    c record := cvc.cursor_decode(p_cursor);
    r record;
    v_data jsonb := '[]';
    v_last_at timestamptz;
    v_last_id text;
    n int := 0;
begin
    for r in
        select p, pos.name
        from cvc.payment_requests p
        join cvc.points_of_sale pos on pos.id = p.point_of_sale_id
        where p.beneficiary_id = p_customer
          and (p_statuses is null
               or p.status::text in (select jsonb_array_elements_text(
                                                p_statuses)))
          and (c.at is null or (p.created_at, p.id) < (c.at, c.id))
        order by p.created_at desc, p.id desc
        limit p_limit + 1
    loop
        n := n + 1;
        exit when n > p_limit;
        v_data := v_data || jsonb_build_array(cvc.pr_json(r.p)
            || jsonb_build_object('merchant', jsonb_build_object(
                   'point_of_sale', (r.p).point_of_sale_id,
                   'name', r.name)));
        v_last_at := (r.p).created_at;
        v_last_id := (r.p).id;
    end loop;

    return jsonb_build_object(
        'data', v_data,
        'next_cursor', case when n > p_limit
                            then cvc.cursor_encode(v_last_at, v_last_id) end);
end
$$;

comment on function cvc.customer_prs(text, jsonb, text, int) is
    'GET /api/v1/customer/payment-requests: newest first.';


create or replace function cvc.customer_transactions(p_customer text,
    p_cursor text, p_limit int)
returns jsonb language plpgsql stable as $$
declare
    c record := cvc.cursor_decode(p_cursor);
    r record;
    v_data jsonb := '[]';
    v_last_at timestamptz;
    v_last_id text;
    n int := 0;
begin
    for r in
        select e.id, m.kind, e.amount, m.at, m.payment_request_id,
               pos.name as merchant
        from cvc.ledger_entries e
        join cvc.ledger_movements m on m.id = e.movement_id
        left join cvc.payment_requests p on p.id = m.payment_request_id
        left join cvc.points_of_sale pos on pos.id = p.point_of_sale_id
        where e.account = 'wallet:' || p_customer
          and (c.at is null
               or (m.at, lpad(e.id::text, 20, '0')) < (c.at, c.id))
        order by m.at desc, e.id desc
        limit p_limit + 1
    loop
        n := n + 1;
        exit when n > p_limit;
        v_data := v_data || jsonb_build_array(jsonb_build_object(
            'id', r.id::text, 'type', r.kind, 'amount', r.amount,
            'at', cvc.time_json(r.at),
            'payment_request', r.payment_request_id,
            'merchant', r.merchant));
        v_last_at := r.at;
        v_last_id := lpad(r.id::text, 20, '0');
    end loop;

    return jsonb_build_object(
        'data', v_data,
        'next_cursor', case when n > p_limit
                            then cvc.cursor_encode(v_last_at, v_last_id) end);
end
$$;

comment on function cvc.customer_transactions(text, text, int) is
    'GET /api/v1/customer/transactions: the wallet''s entries, newest '
    'first.';


create or replace function cvc.customer_notifications_list(p_customer text,
    p_cursor text, p_limit int)
returns jsonb language plpgsql stable as $$
declare
    c record := cvc.cursor_decode(p_cursor);
    r cvc.customer_notifications;
    v_data jsonb := '[]';
    v_last cvc.customer_notifications;
    n int := 0;
begin
    for r in
        select * from cvc.customer_notifications
        where beneficiary_id = p_customer
          and (c.at is null
               or (created_at, lpad(id::text, 20, '0')) < (c.at, c.id))
        order by created_at desc, id desc
        limit p_limit + 1
    loop
        n := n + 1;
        exit when n > p_limit;
        v_data := v_data || jsonb_build_array(jsonb_build_object(
            'id', r.id::text, 'type', r.type, 'message', r.message,
            'payment_request', r.payment_request_id, 'amount', r.amount,
            'created_at', cvc.time_json(r.created_at)));
        v_last := r;
    end loop;

    return jsonb_build_object(
        'data', v_data,
        'next_cursor', case when n > p_limit
                            then cvc.cursor_encode(v_last.created_at,
                                     lpad(v_last.id::text, 20, '0')) end);
end
$$;

comment on function cvc.customer_notifications_list(text, text, int) is
    'GET /api/v1/customer/notifications: newest first.';


/*
 * The export of the operations list: the whole filtered table, one row a
 * request, in the merchant's words.  Amounts stay cents: the module writes
 * them as 40,00 (CSV) or as numbers (XLSX).
 */
create or replace function cvc.pr_export(p_kind text, p_id text,
                                         p_filters jsonb)
returns table (last_action text, basket_number text, type text,
               status text, amount bigint, amount_received bigint,
               amount_refunded bigint, customer text, label text,
               customer_reference text, seller_id text,
               point_of_sale text, id text)
language plpgsql stable as $$
begin
    if p_filters->>'point_of_sale' is not null
       and not cvc.can_reach(p_kind, p_id, p_filters->>'point_of_sale')
    then
        perform cvc.fail(404, 'not_found', 'No such point of sale.');
    end if;

    return query
        select cvc.time_fr(p.last_action_at), p.basket_number,
               cvc.type_fr(cvc.pr_type(p)), cvc.status_fr(p.status),
               p.amount, p.amount_received, p.amount_refunded, p.customer,
               p.label, p.customer_reference, p.seller_id,
               pos.name || ' (' || pos.id || ')', p.id
        from cvc.pr_filtered(p_kind, p_id, p_filters, null, null, null) p
        join cvc.points_of_sale pos on pos.id = p.point_of_sale_id;
end
$$;

comment on function cvc.pr_export(text, text, jsonb) is
    'GET /api/v1/payment-requests/export: the rows, newest first.';
