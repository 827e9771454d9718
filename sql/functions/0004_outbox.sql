-- The outbox: e-mails and webhook events are queued here in the
-- transaction of what they tell, and delivered after its commit by the
-- module (ngx_http_cvc_outbox.c), which claims a row, sends it and records
-- the outcome.  E-mails are rendered here, in French.


create or replace function cvc.email(p_recipient text, p_template text,
                                     p_payload jsonb)
returns void language sql as $$
    insert into cvc.outbox (kind, recipient, template, payload, created_at,
                            next_attempt_at)
    values ('email', p_recipient, p_template, p_payload, cvc.now(), cvc.now())
$$;

comment on function cvc.email(text, text, jsonb) is
    'Queues an e-mail in the outbox.';


-- a webhook event for a point of sale that has a webhook; p_pr, the
-- request it tells of, keeps a request's events in order (outbox_claim)
create or replace function cvc.webhook_event(p_pos text, p_type text,
    p_data jsonb, p_pr text default null)
returns void language sql as $$
    insert into cvc.outbox (kind, recipient, template, payload, created_at,
                            next_attempt_at, point_of_sale_id,
                            payment_request_id)
    select 'webhook', pos.webhook_url, p_type,
           jsonb_build_object(
               'id', 'evt_' || replace(gen_random_uuid()::text, '-', ''),
               'type', p_type, 'created_at', cvc.time_json(cvc.now()),
               'data', p_data),
           cvc.now(), cvc.now(), pos.id, p_pr
    from cvc.points_of_sale pos
    where pos.id = p_pos and pos.webhook_url is not null
$$;

comment on function cvc.webhook_event(text, text, jsonb, text) is
    'Queues a webhook event {id, type, created_at, data} for a point of '
    'sale, when it has a webhook.';


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
