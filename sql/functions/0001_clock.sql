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
