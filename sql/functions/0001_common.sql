-- What every function uses: the one notion of "now" (and the test clock
-- that sets it), errors for the API, the audit log, Idempotency-Keys and
-- times in JSON.


-- The one notion of "now" for every SQL function.

create or replace function cvc.now() returns timestamptz
language sql stable as $$
    select coalesce((select base + (now() - set_at) from cvc.test_clock),
                    now())
$$;

comment on function cvc.now() is
    'The time of the transaction, moved by the test clock when one is set.';


-- Errors for the API: SQLSTATE CVnnn is HTTP status nnn, the message is
-- the error code, the detail its text, the hint a JSON object of extras
-- ("fields", "attempts_left").

create or replace function cvc.fail(status int, code text, message text,
                                    extra jsonb default null)
returns void language plpgsql as $$
begin
    raise exception using errcode = 'CV' || status::text, message = code,
        detail = message, hint = coalesce(extra::text, '');
end
$$;

comment on function cvc.fail(int, text, text, jsonb) is
    'Ends the transaction with an API error: SQLSTATE CV<status>.';


create or replace function cvc.audit(event text, account text,
                                     client_ip text, request_id text,
                                     details jsonb default '{}')
returns void language sql as $$
    insert into cvc.audit_log (at, event, account, client_ip, request_id,
                               details)
    values (cvc.now(), event, account, client_ip::inet, request_id, details)
$$;

comment on function cvc.audit(text, text, text, text, jsonb) is
    'Records a security event.';


/*
 * Idempotency-Key (api.md, Conventions), for the functions of a POST that
 * creates something: cvc.idempotency_prior() at their start gives the
 * first answer to p_key in p_scope (the caller's account) within 24 hours,
 * or null when the key is new or none; cvc.idempotency_keep() at their end
 * stores the answer in the same transaction as what it created.  p_hash:
 * the request's body (canonical JSON, hashed), and what else names the
 * thing made.
 */
create or replace function cvc.idempotency_prior(p_scope text, p_key text,
                                                 p_hash text)
returns jsonb language plpgsql as $$
declare
    v_prior cvc.idempotency_keys;
begin
    if p_key is null then
        return null;
    end if;

    -- a second request with this key waits for nothing: it is told
    if not pg_try_advisory_xact_lock(hashtextextended(p_scope || ' '
                                                      || p_key, 0))
    then
        perform cvc.fail(409, 'idempotency_in_progress',
                         'A request with this Idempotency-Key is in '
                         'progress.');
    end if;

    select * into v_prior from cvc.idempotency_keys
    where scope = p_scope and key = p_key
      and created_at > cvc.now() - interval '24 hours';

    if found then
        if v_prior.request_hash <> p_hash then
            perform cvc.fail(409, 'idempotency_conflict',
                             'This Idempotency-Key was used with another '
                             'body.');
        end if;
        return v_prior.response::jsonb;
    end if;

    -- older than 24 hours: forgotten
    delete from cvc.idempotency_keys where scope = p_scope and key = p_key;
    return null;
end
$$;

comment on function cvc.idempotency_prior(text, text, text) is
    'The first answer to an Idempotency-Key, or null (409 while in flight '
    'or for another body).';


create or replace function cvc.idempotency_keep(p_scope text, p_key text,
    p_hash text, p_status int, p_response jsonb)
returns jsonb language plpgsql as $$
begin
    if p_key is not null then
        insert into cvc.idempotency_keys (scope, key, request_hash, status,
                                          response, created_at)
        values (p_scope, p_key, p_hash, p_status, p_response::text,
                cvc.now());
    end if;

    return p_response;
end
$$;

comment on function cvc.idempotency_keep(text, text, text, int, jsonb) is
    'Keeps the answer to an Idempotency-Key (none without a key); returns '
    'it.';


create or replace function cvc.time_json(t timestamptz) returns text
language sql immutable as $$
    select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

comment on function cvc.time_json(timestamptz) is
    'A time stamp as the API writes it: RFC 3339, UTC, to the second.';


create or replace function cvc.ms(t timestamptz) returns bigint
language sql immutable as $$
    select floor(extract(epoch from t) * 1000)::bigint
$$;

comment on function cvc.ms(timestamptz) is 'Milliseconds since 1970.';


create or replace function cvc.clock_set(p_now timestamptz,
    p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
begin
    insert into cvc.test_clock (id, base, set_at)
    values (true, p_now, now())
    on conflict (id) do update set base = excluded.base,
                                   set_at = excluded.set_at;

    perform cvc.audit('clock_set', 'ops', p_client_ip, p_request_id,
                      jsonb_build_object('now', p_now));
    return jsonb_build_object('now', cvc.time_json(p_now),
                              'ms', floor(extract(epoch from p_now) * 1000)::bigint);
end
$$;

comment on function cvc.clock_set(timestamptz, text, text) is
    'PUT /ops/v1/clock: "now" runs on from the given instant.';


create or replace function cvc.clock_clear(p_client_ip text,
                                           p_request_id text)
returns jsonb language plpgsql as $$
begin
    delete from cvc.test_clock;
    perform cvc.audit('clock_cleared', 'ops', p_client_ip, p_request_id);
    return '{}'::jsonb;
end
$$;

comment on function cvc.clock_clear(text, text) is
    'DELETE /ops/v1/clock: back to the real time.';
