-- Payment requests: the state machine.  Each operation is one function, run
-- in one transaction under a row lock: it checks the transition, writes the
-- event, the ledger entries, the outbox rows and the customer's
-- notification, and returns the JSON the API answers with.


/*
 * The transitions.  A request is created awaiting_payment; an action moves
 * it only from the status and while the time the table says; validated,
 * cancelled, expired and refused are final.  cvc.pr_may() is this table,
 * and every transition asks it first.
 *
 *   action    from              while                        to
 *   pay       awaiting_payment  now <= pay_by                to_validate if
 *                                                            it has a
 *                                                            validation
 *                                                            delay, else
 *                                                            validated
 *   refuse    awaiting_payment  now <= pay_by                refused
 *   cancel    awaiting_payment  now <= pay_by                cancelled
 *   cancel    to_validate       now <= validation_deadline   cancelled, the
 *                                                            customer
 *                                                            re-credited
 *   confirm   to_validate       now <= validation_deadline   validated
 *   expire    awaiting_payment  now > pay_by                 expired
 *   deadline  to_validate       now > validation_deadline    validated or
 *                                                            expired (its
 *                                                            on_validation_
 *                                                            expiry)
 *   remind    to_validate       in the last 24 hours before  to_validate,
 *                               the deadline, once           merchant told
 *
 * pay, refuse, cancel and confirm are the API's; expire, deadline and
 * remind its timers' (0010_timers.sql), which fire late or twice without
 * harm: the table is read again under the row lock.
 */
create or replace function cvc.pr_awaiting_payment(p cvc.payment_requests)
returns boolean language sql stable as $$
    select p.status = 'awaiting_payment' and cvc.now() <= p.pay_by
$$;

comment on function cvc.pr_awaiting_payment(cvc.payment_requests) is
    'The request can be paid, refused or cancelled: awaiting payment, '
    'before pay_by.';


create or replace function cvc.pr_validating(p cvc.payment_requests)
returns boolean language sql stable as $$
    select p.status = 'to_validate' and cvc.now() <= p.validation_deadline
$$;

comment on function cvc.pr_validating(cvc.payment_requests) is
    'The pre-reservation can be confirmed or cancelled: to validate, '
    'before its validation deadline.';


create or replace function cvc.pr_may(p cvc.payment_requests,
                                      p_action text)
returns boolean language sql stable as $$
    select coalesce(case p_action
        when 'pay' then cvc.pr_awaiting_payment(p)
        when 'refuse' then cvc.pr_awaiting_payment(p)
        when 'cancel' then cvc.pr_awaiting_payment(p)
                           or cvc.pr_validating(p)
        when 'confirm' then cvc.pr_validating(p)
        when 'expire' then p.status = 'awaiting_payment'
                           and not cvc.pr_awaiting_payment(p)
        when 'deadline' then p.status = 'to_validate'
                             and not cvc.pr_validating(p)
        when 'remind' then cvc.pr_validating(p)
                           and p.reminder_sent_at is null
                           and cvc.now() >= p.validation_deadline
                                            - interval '24 hours'
    end, false)
$$;

comment on function cvc.pr_may(cvc.payment_requests, text) is
    'The transition table: may this action move the request now?';


-- an action of the API the table refuses: 409 invalid_state
create or replace function cvc.pr_must(p cvc.payment_requests,
                                       p_action text)
returns void language plpgsql as $$
begin
    if not cvc.pr_may(p, p_action) then
        perform cvc.fail(409, 'invalid_state',
                         format('This payment request is %s: it can''t be '
                                '%s.', p.status, case p_action
                                    when 'pay' then 'paid'
                                    when 'refuse' then 'refused'
                                    when 'cancel' then 'cancelled'
                                    when 'confirm' then 'confirmed' end),
                         jsonb_build_object('status', p.status));
    end if;
end
$$;

comment on function cvc.pr_must(cvc.payment_requests, text) is
    'Fails with 409 invalid_state unless the table lets the action move '
    'the request now.';


create or replace function cvc.pr_type(p cvc.payment_requests) returns text
language sql immutable as $$
    select case
        when p.validation_delay_days > 0 then 'pre_reservation'
        when p.mode = 'immediate' then 'immediate_payment'
        else 'deferred_payment'
    end
$$;

comment on function cvc.pr_type(cvc.payment_requests) is
    'Paiement immediat, Paiement differe or Pre-reservation.';


create or replace function cvc.pos_name(p_pos text) returns text
language sql stable as $$
    select name from cvc.points_of_sale where id = p_pos
$$;

comment on function cvc.pos_name(text) is
    'The name of a point of sale, as messages give it.';


create or replace function cvc.pr_json(p cvc.payment_requests) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', p.id, 'point_of_sale', p.point_of_sale_id, 'mode', p.mode,
        'type', cvc.pr_type(p), 'status', p.status, 'amount', p.amount,
        'amount_received', p.amount_received,
        'amount_refunded', p.amount_refunded, 'currency', 'EUR',
        'allow_partial', p.allow_partial, 'basket_number', p.basket_number,
        'customer', p.customer, 'label', p.label,
        'customer_reference', p.customer_reference,
        'seller_id', p.seller_id,
        'validation_delay_days', p.validation_delay_days,
        'on_validation_expiry', p.on_validation_expiry,
        'pay_by', cvc.time_json(p.pay_by),
        'validation_deadline', cvc.time_json(p.validation_deadline),
        'notify_email', p.notify_email,
        'created_at', cvc.time_json(p.created_at),
        'paid_at', cvc.time_json(p.paid_at),
        'validated_at', cvc.time_json(p.validated_at),
        'cancelled_at', cvc.time_json(p.cancelled_at),
        'expired_at', cvc.time_json(p.expired_at),
        'refused_at', cvc.time_json(p.refused_at),
        'last_action_at', cvc.time_json(p.last_action_at))
$$;

comment on function cvc.pr_json(cvc.payment_requests) is
    'A payment request as the API shows it.';


-- The caller of the API function that runs, for the audit log of the
-- transitions it makes (pr_event): set at the start of each, for its
-- transaction only; a timer's transitions have none.
create or replace function cvc.pr_caller(p_client_ip text, p_request_id text)
returns void language sql as $$
    select set_config('cvc.client_ip', coalesce(p_client_ip, ''), true),
           set_config('cvc.request_id', coalesce(p_request_id, ''), true)
$$;

comment on function cvc.pr_caller(text, text) is
    'The client address and request id that pr_event writes in the audit '
    'log, for this transaction.';


-- Every event of a payment request's history goes to the audit log too,
-- as payment_request_<type>, with its actor and the caller of pr_caller:
-- the trail of every money action, in one place.
create or replace function cvc.pr_event(p_id text, p_type text,
    p_actor text, p_details jsonb default '{}')
returns void language sql as $$
    insert into cvc.payment_request_events (payment_request_id, type, at,
                                            actor, details)
    values (p_id, p_type, cvc.now(), p_actor, p_details);
    select cvc.audit('payment_request_' || p_type, p_actor,
                     nullif(current_setting('cvc.client_ip', true), ''),
                     nullif(current_setting('cvc.request_id', true), ''),
                     jsonb_build_object('payment_request', p_id) || p_details)
$$;

comment on function cvc.pr_event(text, text, text, jsonb) is
    'Records an event of a payment request''s history, and audits it.';


-- what e-mails and webhooks say of a request
create or replace function cvc.pr_message(p cvc.payment_requests)
returns jsonb language sql stable as $$
    select cvc.pr_json(p) || jsonb_build_object(
        'merchant_name', pos.name, 'customer_email', b.email,
        'amount_text', cvc.money_fr(p.amount),
        'amount_received_text', cvc.money_fr(coalesce(p.amount_received, 0)),
        'amount_refunded_text', cvc.money_fr(p.amount_refunded))
    from cvc.points_of_sale pos, cvc.beneficiaries b
    where pos.id = p.point_of_sale_id and b.id = p.beneficiary_id
$$;

comment on function cvc.pr_message(cvc.payment_requests) is
    'The payload of the e-mails about a request.';


-- the webhook event of a transition, when the point of sale has a webhook
create or replace function cvc.pr_webhook(p cvc.payment_requests,
                                          p_type text)
returns void language sql as $$
    -- the request's JSON only where a webhook will carry it: most points
    -- of sale have none, and every transition comes here
    select cvc.webhook_event(p.point_of_sale_id, p_type, cvc.pr_json(p), p.id)
    where exists (select 1 from cvc.points_of_sale
                  where id = p.point_of_sale_id and webhook_url is not null)
$$;

comment on function cvc.pr_webhook(cvc.payment_requests, text) is
    'Queues a webhook event for the request''s point of sale.';


create or replace function cvc.pr_tell_customer(p cvc.payment_requests,
    p_type text, p_message text, p_amount bigint, p_template text)
returns void language plpgsql as $$
begin
    insert into cvc.customer_notifications (beneficiary_id, type,
        payment_request_id, message, amount, created_at)
    values (p.beneficiary_id, p_type, p.id, p_message, p_amount, cvc.now());

    if p_template is not null then
        perform cvc.email(b.email, p_template, cvc.pr_message(p))
        from cvc.beneficiaries b where b.id = p.beneficiary_id;
    end if;
end
$$;

comment on function cvc.pr_tell_customer(cvc.payment_requests, text, text,
                                         bigint, text)
    is 'An in-app notification, and an e-mail when a template is given.';


create or replace function cvc.pr_tell_merchant(p cvc.payment_requests,
                                                p_template text)
returns void language sql as $$
    select cvc.email(p.notify_email, p_template, cvc.pr_message(p))
    where p.notify_email is not null
$$;

comment on function cvc.pr_tell_merchant(cvc.payment_requests, text) is
    'An e-mail to the request''s notify_email, if any.';


-- the point of sale an API caller acts for, checked
create or replace function cvc.caller_pos(p_kind text, p_id text,
                                          p_pos text)
returns text language plpgsql stable as $$
declare
    v_own text := case p_kind
        when 'point_of_sale' then p_id
        when 'api_key' then (select point_of_sale_id from cvc.api_keys
                             where id = p_id)
    end;
begin
    if p_kind = 'admin' then
        if p_pos is null then
            perform cvc.fail(422, 'validation_failed',
                             'Some fields are invalid.',
                             '{"fields": {"point_of_sale": "is required"}}');
        end if;
        if not cvc.can_reach(p_kind, p_id, p_pos) then
            perform cvc.fail(422, 'validation_failed',
                             'Some fields are invalid.',
                             '{"fields": {"point_of_sale": '
                             '"no such point of sale"}}');
        end if;
        return p_pos;
    end if;

    if p_pos is not null and p_pos <> v_own then
        perform cvc.fail(422, 'validation_failed', 'Some fields are invalid.',
                         '{"fields": {"point_of_sale": '
                         '"must be your own point of sale"}}');
    end if;

    return v_own;
end
$$;

comment on function cvc.caller_pos(text, text, text) is
    'The point of sale a request is created for: an admin names one of its '
    'convention; a point of sale or an API key acts for its own.';


create or replace function cvc.remembered_email(p_kind text, p_id text,
                                                p_pos text)
returns text language sql stable as $$
    select case p_kind
        when 'admin' then (select notify_email from cvc.conventions
                           where id = p_id)
        else (select notify_email from cvc.points_of_sale where id = p_pos)
    end
$$;

comment on function cvc.remembered_email(text, text, text) is
    'The notify_email an account remembered ("Se souvenir de cet e-mail").';


/*
 * POST /api/v1/payment-requests.  p_body is the request's JSON, its shape
 * checked by the module; p_window the immediate payment window and
 * p_expiry the default on_validation_expiry, from the configuration.
 */
create or replace function cvc.pr_create(p_kind text, p_id text,
    p_body jsonb, p_idem_key text, p_idem_hash text, p_window interval,
    p_expiry text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    v_scope text := p_kind || ':' || p_id;
    v_pos text;
    v_prior jsonb;
    v_beneficiary text;
    v_today date := cvc.paris_date(cvc.now());
    v_pay_by timestamptz;
    v_notify text;
    p cvc.payment_requests;
begin
    perform cvc.pr_caller(p_client_ip, p_request_id);

    v_prior := cvc.idempotency_prior(v_scope, p_idem_key, p_idem_hash);

    if v_prior is not null then
        return v_prior;
    end if;

    v_pos := cvc.caller_pos(p_kind, p_id, p_body->>'point_of_sale');

    select id into v_beneficiary from cvc.beneficiaries
    where id = p_body->>'customer' or lower(email) = lower(p_body->>'customer');

    if v_beneficiary is null then
        perform cvc.fail(422, 'validation_failed', 'Some fields are invalid.',
                         '{"fields": {"customer": "no Cheque-Vacances Connect '
                         'beneficiary has this id or e-mail"}}');
    end if;

    if p_body->>'mode' = 'immediate' then
        v_pay_by := cvc.now() + p_window;
    else
        if (p_body->>'pay_by')::date < v_today
           or (p_body->>'pay_by')::date > v_today + 365
        then
            perform cvc.fail(422, 'validation_failed',
                             'Some fields are invalid.',
                             '{"fields": {"pay_by": "must be from today to a '
                             'year from today"}}');
        end if;
        v_pay_by := cvc.end_of_day((p_body->>'pay_by')::date);
    end if;

    v_notify := case when p_body ? 'notify_email'
                     then p_body->>'notify_email'
                     else cvc.remembered_email(p_kind, p_id, v_pos) end;

    if coalesce((p_body->>'remember_notify_email')::boolean, false) then
        if p_kind = 'admin' then
            update cvc.conventions set notify_email = v_notify
            where id = p_id;
        else
            update cvc.points_of_sale set notify_email = v_notify
            where id = v_pos;
        end if;
    end if;

    begin
        insert into cvc.payment_requests (
            id, point_of_sale_id, mode, status, amount, allow_partial,
            basket_number, customer, beneficiary_id, label,
            customer_reference, seller_id, validation_delay_days,
            on_validation_expiry, pay_by, notify_email, created_by,
            created_at, last_action_at)
        values (
            'pr_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24),
            v_pos, p_body->>'mode', 'awaiting_payment',
            (p_body->>'amount')::bigint,
            coalesce((p_body->>'allow_partial')::boolean, false),
            p_body->>'basket_number', p_body->>'customer', v_beneficiary,
            p_body->>'label', p_body->>'customer_reference',
            p_body->>'seller_id',
            coalesce((p_body->>'validation_delay_days')::int, 0),
            coalesce(p_body->>'on_validation_expiry', p_expiry),
            v_pay_by, v_notify, v_scope, cvc.now(), cvc.now())
        returning * into p;
    exception
        when unique_violation then
            perform cvc.fail(409, 'duplicate_basket',
                             'This basket number already has a payment '
                             'request awaiting payment, to validate or '
                             'validated.',
                             '{"fields": {"basket_number": "is already '
                             'used"}}');
    end;

    perform cvc.pr_event(p.id, 'created', v_scope);
    perform cvc.pr_tell_customer(p, 'payment_request_created',
        format('%s vous demande un paiement de %s (panier %s).',
               cvc.pos_name(v_pos),
               cvc.money_fr(p.amount), p.basket_number),
        p.amount, 'request_to_pay');
    perform cvc.pr_webhook(p, 'payment_request.created');

    return cvc.idempotency_keep(v_scope, p_idem_key, p_idem_hash, 201,
                                cvc.pr_json(p));
end
$$;

comment on function cvc.pr_create(text, text, jsonb, text, text, interval,
                                  text, text, text)
    is 'POST /api/v1/payment-requests, with its Idempotency-Key.';


-- the request, locked, if the caller reaches it; else 404
create or replace function cvc.pr_reachable(p_kind text, p_id text,
                                            p cvc.payment_requests)
returns boolean language sql stable as $$
    select p.id is not null
       and case when p_kind = 'customer' then p.beneficiary_id = p_id
                else cvc.can_reach(p_kind, p_id, p.point_of_sale_id) end
$$;

comment on function cvc.pr_reachable(text, text, cvc.payment_requests) is
    'A customer reaches the requests addressed to it, a merchant or an API '
    'key those of the points of sale it reaches.';


create or replace function cvc.pr_lock(p_kind text, p_id text, p_pr text)
returns cvc.payment_requests language plpgsql as $$
declare
    p cvc.payment_requests;
begin
    select * into p from cvc.payment_requests where id = p_pr for update;

    if not cvc.pr_reachable(p_kind, p_id, p) then
        perform cvc.fail(404, 'not_found', 'No such payment request.');
    end if;

    return p;
end
$$;

comment on function cvc.pr_lock(text, text, text) is
    'Locks a payment request the caller may act on (404 otherwise).';


create or replace function cvc.pr_get(p_kind text, p_id text, p_pr text)
returns jsonb language plpgsql as $$
declare
    p cvc.payment_requests;
begin
    select * into p from cvc.payment_requests where id = p_pr;

    if not cvc.pr_reachable(p_kind, p_id, p) then
        perform cvc.fail(404, 'not_found', 'No such payment request.');
    end if;

    return cvc.pr_json(p) || jsonb_build_object('events', coalesce((
        select jsonb_agg(jsonb_build_object('type', type,
                                            'at', cvc.time_json(at),
                                            'actor', actor) order by id)
        from cvc.payment_request_events where payment_request_id = p.id),
        '[]'));
end
$$;

comment on function cvc.pr_get(text, text, text) is
    'GET /api/v1/payment-requests/{id}: the request and its history.';


-- to_validate -> validated: the money goes from escrow to the merchant
create or replace function cvc.pr_validate(p cvc.payment_requests,
                                           p_actor text, p_event text)
returns cvc.payment_requests language plpgsql as $$
begin
    update cvc.payment_requests
    set status = 'validated', validated_at = cvc.now(),
        last_action_at = cvc.now()
    where id = p.id returning * into p;

    perform cvc.ledger_move('payment', 'escrow:' || p.point_of_sale_id,
                            'merchant_pending:' || p.point_of_sale_id,
                            p.amount_received, p.id);
    perform cvc.payout_add(p);
    perform cvc.pr_event(p.id, p_event, p_actor);
    perform cvc.pr_tell_customer(p, 'reservation_confirmed',
        format('Votre réservation chez %s (panier %s) est confirmée : %s.',
               cvc.pos_name(p.point_of_sale_id),
               p.basket_number, cvc.money_fr(p.amount_received)),
        p.amount_received, 'reservation_confirmed');
    perform cvc.pr_webhook(p, 'payment_request.validated');
    return p;
end
$$;

comment on function cvc.pr_validate(cvc.payment_requests, text, text) is
    'A pre-reservation becomes validated (confirmed, or at its deadline).';


-- to_validate -> cancelled or expired: the customer is re-credited at once
create or replace function cvc.pr_release(p cvc.payment_requests,
    p_status cvc.pr_status, p_actor text)
returns cvc.payment_requests language plpgsql as $$
declare
    v_name text := cvc.pos_name(p.point_of_sale_id);
begin
    update cvc.payment_requests
    set status = p_status, amount_refunded = amount_received,
        cancelled_at = case when p_status = 'cancelled' then cvc.now() end,
        expired_at = case when p_status = 'expired' then cvc.now() end,
        last_action_at = cvc.now()
    where id = p.id returning * into p;

    perform cvc.ledger_move('refund', 'escrow:' || p.point_of_sale_id,
                            'wallet:' || p.beneficiary_id,
                            p.amount_received, p.id);
    perform cvc.pr_event(p.id, p_status::text, p_actor);
    perform cvc.pr_event(p.id, 'refunded', 'system',
                         jsonb_build_object('amount', p.amount_refunded));

    if p_status = 'cancelled' then
        perform cvc.pr_tell_customer(p, 'reservation_cancelled',
            format('%s a annulé votre réservation (panier %s) : %s vous '
                   'ont été re-crédités.', v_name, p.basket_number,
                   cvc.money_fr(p.amount_refunded)),
            p.amount_refunded, 'reservation_cancelled');
        perform cvc.pr_webhook(p, 'payment_request.cancelled');
    else
        perform cvc.pr_tell_customer(p, 'reservation_expired',
            format('Votre réservation chez %s (panier %s) a expiré sans '
                   'confirmation : %s vous ont été re-crédités.', v_name,
                   p.basket_number, cvc.money_fr(p.amount_refunded)),
            p.amount_refunded, 'reservation_expired');
        perform cvc.pr_tell_merchant(p, 'payment_expired');
        perform cvc.pr_webhook(p, 'payment_request.expired');
    end if;

    return p;
end
$$;

comment on function cvc.pr_release(cvc.payment_requests, cvc.pr_status,
                                   text)
    is 'A pre-reservation is cancelled or expires: the money goes back.';


create or replace function cvc.pr_confirm(p_kind text, p_id text,
    p_pr text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    p cvc.payment_requests := cvc.pr_lock(p_kind, p_id, p_pr);
begin
    perform cvc.pr_caller(p_client_ip, p_request_id);
    perform cvc.pr_must(p, 'confirm');

    p := cvc.pr_validate(p, p_kind || ':' || p_id, 'confirmed');
    return cvc.pr_json(p);
end
$$;

comment on function cvc.pr_confirm(text, text, text, text, text) is
    'POST /api/v1/payment-requests/{id}/confirm.';


create or replace function cvc.pr_cancel(p_kind text, p_id text,
    p_pr text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    p cvc.payment_requests := cvc.pr_lock(p_kind, p_id, p_pr);
begin
    perform cvc.pr_caller(p_client_ip, p_request_id);
    perform cvc.pr_must(p, 'cancel');

    if p.status = 'to_validate' then
        p := cvc.pr_release(p, 'cancelled', p_kind || ':' || p_id);
        return cvc.pr_json(p);
    end if;

    update cvc.payment_requests
    set status = 'cancelled', cancelled_at = cvc.now(),
        last_action_at = cvc.now()
    where id = p.id returning * into p;

    perform cvc.pr_event(p.id, 'cancelled', p_kind || ':' || p_id);
    perform cvc.pr_tell_customer(p, 'payment_request_cancelled',
        format('%s a annulé sa demande de paiement (panier %s).',
               cvc.pos_name(p.point_of_sale_id), p.basket_number),
        null, null);
    perform cvc.pr_webhook(p, 'payment_request.cancelled');
    return cvc.pr_json(p);
end
$$;

comment on function cvc.pr_cancel(text, text, text, text, text) is
    'POST /api/v1/payment-requests/{id}/cancel.';


-- p_code_hash: the code's keyed hash, where it was checked against an
-- scrypt one (codes hashed before cvc_payment_code_key): stored with the
-- payment, so that the next payment checks it on the event loop
drop function if exists cvc.pr_pay(text, text, bigint, text, text);

create or replace function cvc.pr_pay(p_customer text, p_pr text,
    p_amount bigint, p_client_ip text, p_request_id text,
    p_code_hash text default null)
returns jsonb language plpgsql as $$
declare
    p cvc.payment_requests := cvc.pr_lock('customer', p_customer, p_pr);
    v_amount bigint := coalesce(p_amount, p.amount);
    v_actor text := 'customer:' || p_customer;
begin
    perform cvc.pr_caller(p_client_ip, p_request_id);
    -- the code was right, but wrong ones in parallel may have locked it
    -- since: the lock is read under the wallet's row lock
    if (select payment_code_locked_at is not null from cvc.beneficiaries
        where id = p_customer for update)
    then
        perform cvc.fail(423, 'payment_code_locked',
                         'The payment code is locked after 3 wrong codes: '
                         'set a new one.');
    end if;

    if p_code_hash is not null then
        update cvc.beneficiaries set payment_code_hash = p_code_hash
        where id = p_customer;
    end if;

    perform cvc.pr_must(p, 'pay');

    if v_amount > p.amount or (v_amount < p.amount and not p.allow_partial)
    then
        perform cvc.fail(422, 'validation_failed', 'Some fields are invalid.',
            jsonb_build_object('fields', jsonb_build_object('amount',
                case when p.allow_partial
                     then format('must be 1 to %s', p.amount)
                     else format('must be %s: this request can''t be paid '
                                 'in part', p.amount) end)));
    end if;

    begin
        perform cvc.ledger_move('payment', 'wallet:' || p_customer,
                                case when p.validation_delay_days > 0
                                     then 'escrow:' else 'merchant_pending:'
                                end || p.point_of_sale_id,
                                v_amount, p.id);
    exception
        when check_violation then
            perform cvc.fail(402, 'insufficient_funds',
                             'The balance is lower than the amount.');
    end;

    update cvc.payment_requests
    set amount_received = v_amount, paid_at = cvc.now(),
        last_action_at = cvc.now(),
        status = case when validation_delay_days > 0
                      then 'to_validate' else 'validated' end::cvc.pr_status,
        validated_at = case when validation_delay_days = 0
                            then cvc.now() end,
        validation_deadline = case when validation_delay_days > 0
            then cvc.end_of_day(cvc.add_business_days(
                     cvc.paris_date(cvc.now()), validation_delay_days))
            end
    where id = p.id returning * into p;

    perform cvc.pr_event(p.id, 'paid', v_actor,
                         jsonb_build_object('amount', v_amount));
    perform cvc.pr_tell_customer(p, 'payment_received',
        format('Vous avez payé %s à %s (panier %s).', cvc.money_fr(v_amount),
               cvc.pos_name(p.point_of_sale_id), p.basket_number),
        v_amount, null);
    perform cvc.pr_tell_merchant(p, 'payment_paid');
    perform cvc.pr_webhook(p, 'payment_request.paid');

    if p.status = 'validated' then
        perform cvc.payout_add(p);
        perform cvc.pr_webhook(p, 'payment_request.validated');
    end if;

    return cvc.pr_json(p);
end
$$;

comment on function cvc.pr_pay(text, text, bigint, text, text, text) is
    'POST /api/v1/customer/payment-requests/{id}/pay: the wallet is '
    'debited at once (402 if it can''t be).';


create or replace function cvc.pr_refuse(p_customer text, p_pr text,
    p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    p cvc.payment_requests := cvc.pr_lock('customer', p_customer, p_pr);
begin
    perform cvc.pr_caller(p_client_ip, p_request_id);
    perform cvc.pr_must(p, 'refuse');

    update cvc.payment_requests
    set status = 'refused', refused_at = cvc.now(),
        last_action_at = cvc.now()
    where id = p.id returning * into p;

    perform cvc.pr_event(p.id, 'refused', 'customer:' || p_customer);
    perform cvc.pr_tell_merchant(p, 'payment_refused');
    perform cvc.pr_webhook(p, 'payment_request.refused');
    return cvc.pr_json(p);
end
$$;

comment on function cvc.pr_refuse(text, text, text, text) is
    'POST /api/v1/customer/payment-requests/{id}/refuse.';


-- a timer's request, locked, if the table lets its action move it now;
-- else no request: a late or repeated firing changes nothing
create or replace function cvc.pr_due(p_pr text, p_action text)
returns cvc.payment_requests language plpgsql as $$
declare
    p cvc.payment_requests;
begin
    select * into p from cvc.payment_requests where id = p_pr for update;

    if not cvc.pr_may(p, p_action) then
        return null;
    end if;

    return p;
end
$$;

comment on function cvc.pr_due(text, text) is
    'The request of a timer, locked, when its action is due; else null.';


create or replace function cvc.pr_expire_payment(p_pr text)
returns jsonb language plpgsql as $$
declare
    p cvc.payment_requests := cvc.pr_due(p_pr, 'expire');
begin
    if p.id is null then
        return null;
    end if;

    update cvc.payment_requests
    set status = 'expired', expired_at = cvc.now(),
        last_action_at = cvc.now()
    where id = p.id returning * into p;

    perform cvc.pr_event(p.id, 'expired', 'system');
    perform cvc.pr_tell_customer(p, 'payment_request_expired',
        format('La demande de paiement de %s (panier %s) a expiré.',
               cvc.pos_name(p.point_of_sale_id), p.basket_number),
        null, null);
    perform cvc.pr_tell_merchant(p, 'payment_expired');
    perform cvc.pr_webhook(p, 'payment_request.expired');
    return cvc.pr_json(p);
end
$$;

comment on function cvc.pr_expire_payment(text) is
    'Timer: pay_by has passed on a request awaiting payment.';


create or replace function cvc.pr_deadline(p_pr text)
returns jsonb language plpgsql as $$
declare
    p cvc.payment_requests := cvc.pr_due(p_pr, 'deadline');
begin
    if p.id is null then
        return null;
    end if;

    if p.on_validation_expiry = 'validate' then
        p := cvc.pr_validate(p, 'system', 'validated');
    else
        p := cvc.pr_release(p, 'expired', 'system');
    end if;

    return cvc.pr_json(p);
end
$$;

comment on function cvc.pr_deadline(text) is
    'Timer: the validation deadline of a pre-reservation has passed.';


create or replace function cvc.pr_remind(p_pr text)
returns jsonb language plpgsql as $$
declare
    p cvc.payment_requests := cvc.pr_due(p_pr, 'remind');
begin
    if p.id is null then
        return null;
    end if;

    update cvc.payment_requests set reminder_sent_at = cvc.now()
    where id = p.id returning * into p;

    perform cvc.pr_event(p.id, 'reminder_sent', 'system');
    perform cvc.pr_tell_merchant(p, 'validation_reminder');
    perform cvc.pr_webhook(p, 'payment_request.validation_reminder');
    return cvc.pr_json(p);
end
$$;

comment on function cvc.pr_remind(text) is
    'Timer: 24 hours before a validation deadline, the merchant is told.';
