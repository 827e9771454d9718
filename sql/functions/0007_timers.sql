-- What happens without a click: the timers' due list, their firing, the
-- outbox's deliveries (e-mails rendered here, in French) and the payouts.


create or replace function cvc.ms(t timestamptz) returns bigint
language sql immutable as $$
    select floor(extract(epoch from t) * 1000)::bigint
$$;

comment on function cvc.ms(timestamptz) is 'Milliseconds since 1970.';


-- the start of day D, Europe/Paris
create or replace function cvc.start_of_day(d date) returns timestamptz
language sql immutable as $$
    select (d + time '00:00') at time zone 'Europe/Paris'
$$;

comment on function cvc.start_of_day(date) is
    '00:00 Europe/Paris on D.';


/*
 * The timers due before now + p_horizon, as {"due": [[member, due ms],
 * ...], "clock": the test clock's now in ms, or null}: the module puts them
 * in Redis, where workers claim them.  PostgreSQL is the truth: this
 * rebuilds whatever Redis lost, the test clock's offset included.
 */
create or replace function cvc.timers_due(p_horizon interval)
returns jsonb language sql stable as $$
    with t(member, due) as (
        select 'pay:' || id, pay_by + interval '1 second'
        from cvc.payment_requests
        where status = 'awaiting_payment'
          and pay_by + interval '1 second' <= cvc.now() + p_horizon
        union all
        select 'deadline:' || id, validation_deadline + interval '1 second'
        from cvc.payment_requests
        where status = 'to_validate'
          and validation_deadline + interval '1 second'
              <= cvc.now() + p_horizon
        union all
        select 'remind:' || id, validation_deadline - interval '24 hours'
        from cvc.payment_requests
        where status = 'to_validate' and reminder_sent_at is null
          and validation_deadline - interval '24 hours'
              <= cvc.now() + p_horizon
        union all
        select 'payout:' || id, cvc.start_of_day(scheduled_for)
        from cvc.payouts
        where status = 'scheduled'
          and cvc.start_of_day(scheduled_for) <= cvc.now() + p_horizon
        union all
        select 'outbox:' || id, greatest(next_attempt_at,
                                         coalesce(locked_until,
                                                  next_attempt_at))
        from cvc.outbox
        where sent_at is null
          and greatest(next_attempt_at, coalesce(locked_until,
                                                 next_attempt_at))
              <= cvc.now() + p_horizon
    )
    select jsonb_build_object(
        'clock', (select cvc.ms(cvc.now()) from cvc.test_clock),
        'due', coalesce(jsonb_agg(jsonb_build_array(member, cvc.ms(due))),
                        '[]'))
    from (select * from t order by due limit 5000) x
$$;

comment on function cvc.timers_due(interval) is
    'The timers due soon, for Redis''s sorted set.';


-- fires a timer of a payment request or a payout; a no-op when not due
create or replace function cvc.fire_timer(p_member text)
returns jsonb language plpgsql as $$
declare
    v_kind text := split_part(p_member, ':', 1);
    v_id text := split_part(p_member, ':', 2);
begin
    return case v_kind
        when 'pay' then cvc.pr_expire_payment(v_id)
        when 'deadline' then cvc.pr_deadline(v_id)
        when 'remind' then cvc.pr_remind(v_id)
        when 'payout' then cvc.payout_pay(v_id::bigint)
    end;
end
$$;

comment on function cvc.fire_timer(text) is
    'Timer: the transition a timer stands for, if it is still due.';


-- payouts

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

    insert into cvc.outbox (kind, recipient, template, payload, created_at,
                            next_attempt_at, point_of_sale_id)
    select 'webhook', pos.webhook_url, 'payout.paid',
           jsonb_build_object(
               'id', 'evt_' || replace(gen_random_uuid()::text, '-', ''),
               'type', 'payout.paid', 'created_at', cvc.time_json(cvc.now()),
               'data', cvc.payout_json(o)),
           cvc.now(), cvc.now(), pos.id
    from cvc.points_of_sale pos
    where pos.id = o.point_of_sale_id and pos.webhook_url is not null;

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


-- e-mails, in French

create or replace function cvc.date_fr(t timestamptz) returns text
language sql immutable as $$
    select to_char(t at time zone 'Europe/Paris',
                   'DD/MM/YYYY "à" HH24"h"MI')
$$;

comment on function cvc.date_fr(timestamptz) is
    'A time as 26/06/2020 à 23h59, Europe/Paris.';


create or replace function cvc.html_escape(s text) returns text
language sql immutable as $$
    select replace(replace(replace(s, '&', '&amp;'), '<', '&lt;'), '>',
                   '&gt;')
$$;

comment on function cvc.html_escape(text) is 'Text made safe for HTML.';


create or replace function cvc.render_email(p_template text, p jsonb)
returns jsonb language plpgsql stable as $$
declare
    v_subject text;
    v_body text;
    v_deadline text := cvc.date_fr((p->>'validation_deadline')::timestamptz);
    v_pay_by text := cvc.date_fr((p->>'pay_by')::timestamptz);
begin
    case p_template
    when 'account_locked' then
        v_subject := 'Votre compte Chèque-Vacances Connect est bloqué';
        v_body := format(E'Bonjour %s,\n\nAprès 3 mots de passe erronés, '
            'l''accès au compte %s a été bloqué.\nPour le débloquer, '
            'cliquez sur « Mot de passe oublié » sur la page de connexion.',
            p->>'name', p->>'login');
    when 'password_reset' then
        v_subject := 'Réinitialisation de votre mot de passe';
        v_body := format(E'Bonjour %s,\n\nPour choisir un nouveau mot de '
            'passe pour le compte %s, ouvrez ce lien (valable 1 heure, '
            'une seule fois) :\n%s\n\nSi vous n''avez rien demandé, '
            'ignorez ce message.', p->>'name', p->>'login', p->>'link');
    when 'request_to_pay' then
        v_subject := format('%s vous demande un paiement de %s',
                            p->>'merchant_name', p->>'amount_text');
        v_body := format(E'Bonjour,\n\n%s vous demande un paiement de %s en '
            'Chèque-Vacances Connect (panier %s).\nVous pouvez payer '
            'jusqu''au %s depuis votre application Chèque-Vacances, avec '
            'votre code de paiement.', p->>'merchant_name',
            p->>'amount_text', p->>'basket_number', v_pay_by);
    when 'payment_paid' then
        v_subject := format('Paiement reçu : %s (panier %s)',
                            p->>'amount_received_text', p->>'basket_number');
        v_body := format(E'Bonjour,\n\nLe client %s a payé %s pour le panier '
            '%s.', p->>'customer', p->>'amount_received_text',
            p->>'basket_number')
            || case when p->>'status' = 'to_validate' then format(
                E'\nVous pouvez confirmer ou annuler la réservation '
                'jusqu''au %s.', v_deadline) else '' end;
    when 'payment_refused' then
        v_subject := format('Paiement refusé (panier %s)',
                            p->>'basket_number');
        v_body := format(E'Bonjour,\n\nLe client %s a refusé la demande de '
            'paiement de %s (panier %s).', p->>'customer', p->>'amount_text',
            p->>'basket_number');
    when 'payment_expired' then
        v_subject := format('Demande de paiement expirée (panier %s)',
                            p->>'basket_number');
        v_body := format(E'Bonjour,\n\nLa demande de paiement de %s '
            '(panier %s) a expiré.', p->>'amount_text', p->>'basket_number')
            || case when (p->>'amount_refunded')::bigint > 0 then format(
                E'\nLe client a été re-crédité de %s.',
                p->>'amount_refunded_text') else '' end;
    when 'validation_reminder' then
        v_subject := format('Rappel : réservation à valider (panier %s)',
                            p->>'basket_number');
        v_body := format(E'Bonjour,\n\nLa pré-réservation de %s (panier %s) '
            'attend votre confirmation. Le délai de validation expire le '
            '%s.\nSans action de votre part, elle sera %s.',
            p->>'amount_received_text', p->>'basket_number', v_deadline,
            case p->>'on_validation_expiry' when 'validate' then 'validée'
                 else 'annulée et le client re-crédité' end);
    when 'reservation_confirmed' then
        v_subject := format('%s a confirmé votre réservation',
                            p->>'merchant_name');
        v_body := format(E'Bonjour,\n\n%s a confirmé votre réservation '
            '(panier %s) : %s.', p->>'merchant_name', p->>'basket_number',
            p->>'amount_received_text');
    when 'reservation_cancelled' then
        v_subject := format('%s a annulé votre réservation',
                            p->>'merchant_name');
        v_body := format(E'Bonjour,\n\n%s a annulé votre réservation '
            '(panier %s).\n%s vous ont été re-crédités sur votre compte '
            'Chèque-Vacances Connect.', p->>'merchant_name',
            p->>'basket_number', p->>'amount_refunded_text');
    when 'reservation_expired' then
        v_subject := 'Votre réservation a expiré';
        v_body := format(E'Bonjour,\n\nVotre réservation chez %s (panier %s) '
            'n''a pas été confirmée à temps.\n%s vous ont été re-crédités '
            'sur votre compte Chèque-Vacances Connect.', p->>'merchant_name',
            p->>'basket_number', p->>'amount_refunded_text');
    else
        v_subject := 'Chèque-Vacances Connect';
        v_body := p::text;
    end case;

    v_body := v_body || E'\n\n-- \nChèque-Vacances Connect';

    return jsonb_build_object(
        'subject', v_subject, 'text', replace(v_body, E'\n', E'\r\n'),
        'html', '<html><body><p>'
                || replace(cvc.html_escape(v_body), E'\n', '<br>')
                || '</p></body></html>');
end
$$;

comment on function cvc.render_email(text, jsonb) is
    'The subject, text and HTML of an outbox e-mail.';


/*
 * Claims an outbox row for delivery (a lease, so that a crashed worker's
 * row comes back); null when it is not due, taken, sent, or a webhook whose
 * earlier events of the same request are not delivered yet.
 */
create or replace function cvc.outbox_claim(p_id bigint, p_lease interval)
returns jsonb language plpgsql as $$
declare
    o cvc.outbox;
begin
    select * into o from cvc.outbox
    where id = p_id and sent_at is null and next_attempt_at <= cvc.now()
      and (locked_until is null or locked_until < cvc.now())
    for update skip locked;

    if o.id is null then
        return null;
    end if;

    if o.kind = 'webhook' and o.payment_request_id is not null
       and exists (select 1 from cvc.outbox e
                   where e.kind = 'webhook' and e.sent_at is null
                     and e.payment_request_id = o.payment_request_id
                     and e.id < o.id)
    then
        return null;
    end if;

    update cvc.outbox set locked_until = cvc.now() + p_lease,
                          attempts = attempts + 1
    where id = o.id;

    if o.kind = 'email' then
        return jsonb_build_object('kind', 'email', 'id', o.id,
                                  'to', o.recipient)
               || cvc.render_email(o.template, o.payload);
    end if;

    return jsonb_build_object(
        'kind', 'webhook', 'id', o.id, 'url', o.recipient,
        'body', o.payload::text,
        'secret', (select webhook_secret from cvc.points_of_sale
                   where id = o.point_of_sale_id));
end
$$;

comment on function cvc.outbox_claim(bigint, interval) is
    'Takes an outbox row to deliver, with what to send.';


-- the delivery's outcome; a failure is retried with exponential back-off
create or replace function cvc.outbox_done(p_id bigint, p_ok boolean,
    p_status int, p_error text)
returns jsonb language plpgsql as $$
declare
    o cvc.outbox;
begin
    if p_ok then
        update cvc.outbox
        set sent_at = cvc.now(), last_status = p_status, last_error = null,
            locked_until = null
        where id = p_id returning * into o;

    else
        -- 30 s, 1 min, 2 min... at most 1 h apart: a webhook is retried
        -- for days, an e-mail until the relay takes it
        update cvc.outbox
        set next_attempt_at = cvc.now() + least(interval '1 hour',
                interval '30 seconds' * power(2, least(attempts - 1, 20))),
            last_status = p_status, last_error = left(p_error, 500),
            locked_until = null
        where id = p_id returning * into o;
    end if;

    return jsonb_build_object('next_attempt_at',
                              cvc.ms(o.next_attempt_at));
end
$$;

comment on function cvc.outbox_done(bigint, boolean, int, text) is
    'Records a delivery, or schedules the next attempt.';


create or replace function cvc.webhook_deliveries(p_kind text, p_id text,
                                                  p_pos text)
returns jsonb language plpgsql stable as $$
begin
    perform cvc.reach_or_404(p_kind, p_id, p_pos);

    return jsonb_build_object('data', coalesce((
        select jsonb_agg(jsonb_build_object(
                   'id', o.id::text, 'event', o.payload->>'id',
                   'type', o.template, 'url', o.recipient,
                   'created_at', cvc.time_json(o.created_at),
                   'attempts', o.attempts,
                   'status', case when o.sent_at is not null then 'delivered'
                                  when o.attempts = 0 then 'pending'
                                  else 'retrying' end,
                   'last_status', o.last_status, 'last_error', o.last_error,
                   'delivered_at', cvc.time_json(o.sent_at),
                   'next_attempt_at', case when o.sent_at is null
                       then cvc.time_json(o.next_attempt_at) end)
                   order by o.id desc)
        from (select * from cvc.outbox
              where kind = 'webhook' and point_of_sale_id = p_pos
              order by id desc limit 100) o), '[]'),
        'next_cursor', null);
end
$$;

comment on function cvc.webhook_deliveries(text, text, text) is
    'GET /api/v1/points-of-sale/{pos}/webhook/deliveries: the last 100.';


create or replace function cvc.webhook_retry(p_kind text, p_id text,
    p_pos text, p_delivery text)
returns jsonb language plpgsql as $$
begin
    perform cvc.reach_or_404(p_kind, p_id, p_pos);

    update cvc.outbox
    set next_attempt_at = cvc.now(), locked_until = null,
        sent_at = null
    where kind = 'webhook' and point_of_sale_id = p_pos
      and p_delivery ~ '^[0-9]{1,18}$' and id = p_delivery::bigint;

    if not found then
        perform cvc.fail(404, 'not_found', 'No such delivery.');
    end if;

    return jsonb_build_object('id', p_delivery, 'status', 'pending');
end
$$;

comment on function cvc.webhook_retry(text, text, text, text) is
    'POST …/webhook/deliveries/{id}/retry: sent again, now.';
