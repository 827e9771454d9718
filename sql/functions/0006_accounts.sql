-- Accounts: logins, lockout, password resets, who reaches what.
-- An account is named <kind>:<id>, kind being admin (a convention),
-- point_of_sale or customer (a beneficiary).


-- the account a login names, with what the login check needs
create or replace function cvc.login_find(p_realm text, p_login text)
returns jsonb language sql stable as $$
    select case
        when p_realm = 'merchant' and p_login ~ '^[0-9]{6}$' then
            (select jsonb_build_object('kind', 'admin', 'id', id,
                                       'hash', password_hash,
                                       'locked', locked_at is not null)
             from cvc.conventions where id = p_login)
        when p_realm = 'merchant' and p_login ~ '^[0-9]{12}$' then
            (select jsonb_build_object('kind', 'point_of_sale', 'id', id,
                                       'hash', password_hash,
                                       'locked', locked_at is not null)
             from cvc.points_of_sale where id = p_login)
        when p_realm = 'customer' then
            (select jsonb_build_object('kind', 'customer', 'id', id,
                                       'hash', password_hash,
                                       'locked', locked_at is not null)
             from cvc.beneficiaries
             where id = p_login or lower(email) = lower(p_login))
    end
$$;

comment on function cvc.login_find(text, text) is
    'The account of a merchant (6 or 12 digits) or customer (11 digits or '
    'e-mail) login, its password hash and whether it is locked; or null.';


-- the account as the API shows it
create or replace function cvc.account_json(p_kind text, p_id text)
returns jsonb language sql stable as $$
    select case p_kind
        when 'admin' then
            (select jsonb_build_object('kind', 'admin', 'id', id,
                                       'convention', id, 'name', name)
             from cvc.conventions where id = p_id)
        when 'point_of_sale' then
            (select jsonb_build_object('kind', 'point_of_sale', 'id', id,
                                       'convention', convention_id,
                                       'name', name)
             from cvc.points_of_sale where id = p_id)
        when 'customer' then
            (select jsonb_build_object('id', id, 'email', email)
             from cvc.beneficiaries where id = p_id)
    end
$$;

comment on function cvc.account_json(text, text) is
    'The "account" (merchant) or "customer" object of the API.';


-- locks or unlocks an account; true when this call changed it
create or replace function cvc.account_set_locked(p_kind text, p_id text,
                                                  p_locked boolean)
returns boolean language plpgsql as $$
declare
    v_at timestamptz := case when p_locked then cvc.now() end;
    n int;
begin
    if p_kind = 'admin' then
        update cvc.conventions set locked_at = v_at
        where id = p_id and (locked_at is null) = p_locked;
    elsif p_kind = 'point_of_sale' then
        update cvc.points_of_sale set locked_at = v_at
        where id = p_id and (locked_at is null) = p_locked;
    else
        update cvc.beneficiaries set locked_at = v_at
        where id = p_id and (locked_at is null) = p_locked;
    end if;
    get diagnostics n = row_count;
    return n > 0;
end
$$;

comment on function cvc.account_set_locked(text, text, boolean) is
    'Locks (or unlocks) an account; returns whether it changed.';


create or replace function cvc.account_email(p_kind text, p_id text)
returns text language sql stable as $$
    select case p_kind
        when 'admin' then (select email from cvc.conventions where id = p_id)
        when 'point_of_sale' then
            (select email from cvc.points_of_sale where id = p_id)
        when 'customer' then
            (select email from cvc.beneficiaries where id = p_id)
    end
$$;

comment on function cvc.account_email(text, text) is
    'The e-mail address of an account.';


create or replace function cvc.account_name(p_kind text, p_id text)
returns text language sql stable as $$
    select case p_kind
        when 'admin' then (select name from cvc.conventions where id = p_id)
        when 'point_of_sale' then
            (select name from cvc.points_of_sale where id = p_id)
        when 'customer' then
            (select email from cvc.beneficiaries where id = p_id)
    end
$$;

comment on function cvc.account_name(text, text) is
    'The name to greet an account with.';


-- The 3-strike rule, for passwords and payment codes alike: the module
-- counts each try in Redis before it checks it (a try is wrong until it
-- is proven right, so parallel tries can't pass the 3rd), and the
-- functions below lock at the 3rd; every step that acts on a right secret
-- re-checks the lock in its own transaction.
create or replace function cvc.strikes_left(p_failures int)
returns int language sql immutable as $$
    select greatest(3 - p_failures, 0)
$$;

comment on function cvc.strikes_left(int) is
    'The tries left after p_failures wrong ones in a row (3 strikes).';


-- the lock of an account, read under a row lock: is it locked?
create or replace function cvc.account_locked(p_kind text, p_id text)
returns boolean language plpgsql as $$
declare
    v_locked boolean;
begin
    if p_kind = 'admin' then
        select locked_at is not null into v_locked from cvc.conventions
        where id = p_id for update;
    elsif p_kind = 'point_of_sale' then
        select locked_at is not null into v_locked from cvc.points_of_sale
        where id = p_id for update;
    else
        select locked_at is not null into v_locked from cvc.beneficiaries
        where id = p_id for update;
    end if;
    return coalesce(v_locked, false);
end
$$;

comment on function cvc.account_locked(text, text) is
    'Whether an account is locked, its row locked until the transaction '
    'ends.';


-- a right password: the session may be created, unless the account was
-- locked meanwhile
create or replace function cvc.login_succeeded(p_kind text, p_id text,
    p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
begin
    if cvc.account_locked(p_kind, p_id) then
        perform cvc.fail(423, 'account_locked',
                         'This account is locked.');
    end if;

    perform cvc.audit('login_succeeded', p_kind || ':' || p_id, p_client_ip,
                      p_request_id);

    return cvc.account_json(p_kind, p_id);
end
$$;

comment on function cvc.login_succeeded(text, text, text, text) is
    'Records a login; 423 if the account got locked meanwhile.';


-- a wrong password, the failures'th in a row: the 3rd locks the account
-- and tells its owner, once; {locked, attempts_left}
create or replace function cvc.login_failed(p_realm text, p_login text,
    p_kind text, p_id text, p_failures int, p_client_ip text,
    p_request_id text)
returns jsonb language plpgsql as $$
declare
    v_account text := case when p_id is not null then p_kind || ':' || p_id end;
begin
    perform cvc.audit('login_failed', v_account, p_client_ip, p_request_id,
                      jsonb_build_object('realm', p_realm, 'login', p_login,
                                         'failures', p_failures));

    if p_id is null then
        -- an unknown login: answered as a first wrong password
        return jsonb_build_object('attempts_left', cvc.strikes_left(1));
    end if;

    if cvc.strikes_left(p_failures) > 0 then
        return jsonb_build_object('attempts_left',
                                  cvc.strikes_left(p_failures));
    end if;

    if cvc.account_set_locked(p_kind, p_id, true) then
        perform cvc.audit('account_locked', v_account, p_client_ip,
                          p_request_id);
        perform cvc.email(cvc.account_email(p_kind, p_id), 'account_locked',
                          jsonb_build_object('account', v_account,
                                             'login', p_id,
                                             'name', cvc.account_name(p_kind,
                                                                      p_id),
                                             'at', cvc.now()));
    end if;

    return jsonb_build_object('attempts_left', 0);
end
$$;

comment on function cvc.login_failed(text, text, text, text, int, text, text)
    is 'Records a wrong password; the 3rd in a row locks the account.';


create or replace function cvc.session_ended(p_account text,
    p_client_ip text, p_request_id text)
returns jsonb language sql as $$
    select cvc.audit('session_ended', p_account, p_client_ip, p_request_id);
    select '{}'::jsonb
$$;

comment on function cvc.session_ended(text, text, text) is
    'Records a logout.';


-- the link goes to the account's address; an unknown login gets nothing
create or replace function cvc.password_reset_requested(p_login text,
    p_link text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    v_account jsonb := cvc.login_find('merchant', p_login);
    v_kind text := v_account->>'kind';
    v_id text := v_account->>'id';
begin
    perform cvc.audit('password_reset_requested',
                      case when v_id is not null then v_kind || ':' || v_id end,
                      p_client_ip, p_request_id,
                      jsonb_build_object('login', p_login));

    if v_id is not null then
        perform cvc.email(cvc.account_email(v_kind, v_id), 'password_reset',
                          jsonb_build_object('account', v_kind || ':' || v_id,
                                             'login', v_id,
                                             'name', cvc.account_name(v_kind,
                                                                      v_id),
                                             'link', p_link,
                                             'expires_at',
                                             cvc.now() + interval '1 hour'));
    end if;

    return '{}'::jsonb;
end
$$;

comment on function cvc.password_reset_requested(text, text, text, text) is
    'POST /merchant/password-resets: e-mails the link to a known account.';


-- the new password, and the account unlocked; the account or null
create or replace function cvc.password_reset(p_login text, p_hash text,
    p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    v_account jsonb := cvc.login_find('merchant', p_login);
    v_kind text := v_account->>'kind';
    v_id text := v_account->>'id';
begin
    if v_id is null then
        return null;
    end if;

    if v_kind = 'admin' then
        update cvc.conventions set password_hash = p_hash, locked_at = null
        where id = v_id;
    else
        update cvc.points_of_sale set password_hash = p_hash, locked_at = null
        where id = v_id;
    end if;

    perform cvc.audit('password_reset_completed', v_kind || ':' || v_id,
                      p_client_ip, p_request_id);

    return jsonb_build_object('kind', v_kind, 'id', v_id);
end
$$;

comment on function cvc.password_reset(text, text, text, text) is
    'POST /merchant/password-resets/confirm: sets the password, unlocks.';


-- may this caller act on this point of sale?
create or replace function cvc.can_reach(p_kind text, p_id text, p_pos text)
returns boolean language sql stable as $$
    select case p_kind
        when 'admin' then exists (select 1 from cvc.points_of_sale
                                  where id = p_pos and convention_id = p_id)
        when 'point_of_sale' then p_id = p_pos
        when 'api_key' then exists (select 1 from cvc.api_keys
                                    where id = p_id and point_of_sale_id = p_pos
                                      and revoked_at is null)
        else false
    end
$$;

comment on function cvc.can_reach(text, text, text) is
    'An admin reaches the points of sale of its convention, a point of sale '
    'itself, an API key its own point of sale.';


create or replace function cvc.reach_or_404(p_kind text, p_id text,
                                            p_pos text)
returns void language plpgsql as $$
begin
    if not cvc.can_reach(p_kind, p_id, p_pos) then
        perform cvc.fail(404, 'not_found', 'No such point of sale.');
    end if;
end
$$;

comment on function cvc.reach_or_404(text, text, text) is
    'Fails with 404 where the caller can''t reach the point of sale.';


-- the points of sale a merchant reaches, as the API lists them
create or replace function cvc.points_of_sale_of(p_kind text, p_id text)
returns setof cvc.points_of_sale language sql stable as $$
    select * from cvc.points_of_sale
    where (p_kind = 'admin' and convention_id = p_id)
       or (p_kind = 'point_of_sale' and id = p_id)
    order by name, id
$$;

comment on function cvc.points_of_sale_of(text, text) is
    'The points of sale an admin or point-of-sale account reaches.';


create or replace function cvc.merchant_me(p_kind text, p_id text)
returns jsonb language sql stable as $$
    select jsonb_build_object(
        'account', cvc.account_json(p_kind, p_id),
        'points_of_sale', coalesce((
            select jsonb_agg(jsonb_build_object('id', id, 'name', name,
                                                'category', category))
            from cvc.points_of_sale_of(p_kind, p_id)), '[]'),
        'notify_email', case p_kind
            when 'admin' then
                (select notify_email from cvc.conventions where id = p_id)
            else
                (select notify_email from cvc.points_of_sale where id = p_id)
        end)
$$;

comment on function cvc.merchant_me(text, text) is
    'GET /api/v1/merchant/me.';


create or replace function cvc.points_of_sale_list(p_kind text, p_id text)
returns jsonb language sql stable as $$
    select jsonb_build_object('data', coalesce(jsonb_agg(
        jsonb_build_object('id', id, 'name', name, 'category', category,
                           'convention', convention_id)), '[]'))
    from cvc.points_of_sale_of(p_kind, p_id)
$$;

comment on function cvc.points_of_sale_list(text, text) is
    'GET /api/v1/points-of-sale.';


-- API keys

create or replace function cvc.api_key_json(k cvc.api_keys)
returns jsonb language sql immutable as $$
    select jsonb_build_object('id', k.id, 'name', k.name,
                              'created_at', cvc.time_json(k.created_at),
                              'last_used_at', cvc.time_json(k.last_used_at))
$$;

comment on function cvc.api_key_json(cvc.api_keys) is
    'An API key as the API shows it: never its secret.';


create or replace function cvc.api_key_create(p_kind text, p_id text,
    p_pos text, p_key_id text, p_name text, p_secret_hash text,
    p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    k cvc.api_keys;
begin
    perform cvc.reach_or_404(p_kind, p_id, p_pos);

    insert into cvc.api_keys (id, point_of_sale_id, name, secret_hash,
                              created_at)
    values (p_key_id, p_pos, p_name, p_secret_hash, cvc.now())
    returning * into k;

    perform cvc.audit('api_key_created', p_kind || ':' || p_id, p_client_ip,
                      p_request_id, jsonb_build_object('api_key', k.id,
                                                       'point_of_sale', p_pos));
    return cvc.api_key_json(k);
end
$$;

comment on function cvc.api_key_create(text, text, text, text, text, text,
                                       text, text)
    is 'POST /api/v1/points-of-sale/{pos}/api-keys.';


create or replace function cvc.api_keys_list(p_kind text, p_id text,
                                             p_pos text)
returns jsonb language plpgsql stable as $$
begin
    perform cvc.reach_or_404(p_kind, p_id, p_pos);

    return jsonb_build_object('data', coalesce((
        select jsonb_agg(cvc.api_key_json(k) order by k.created_at desc, k.id)
        from cvc.api_keys k
        where k.point_of_sale_id = p_pos and k.revoked_at is null), '[]'));
end
$$;

comment on function cvc.api_keys_list(text, text, text) is
    'GET /api/v1/points-of-sale/{pos}/api-keys: the keys not revoked.';


create or replace function cvc.api_key_revoke(p_kind text, p_id text,
    p_pos text, p_key_id text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
begin
    perform cvc.reach_or_404(p_kind, p_id, p_pos);

    update cvc.api_keys set revoked_at = cvc.now()
    where id = p_key_id and point_of_sale_id = p_pos and revoked_at is null;

    if not found then
        perform cvc.fail(404, 'not_found', 'No such API key.');
    end if;

    perform cvc.audit('api_key_revoked', p_kind || ':' || p_id, p_client_ip,
                      p_request_id, jsonb_build_object('api_key', p_key_id,
                                                       'point_of_sale', p_pos));
    return '{}'::jsonb;
end
$$;

comment on function cvc.api_key_revoke(text, text, text, text, text, text) is
    'DELETE /api/v1/points-of-sale/{pos}/api-keys/{id}: at once.';


-- the caller behind a key: {"kind": "api_key", "id", "point_of_sale"}
create or replace function cvc.api_key_auth(p_secret_hash text)
returns jsonb language plpgsql as $$
declare
    k cvc.api_keys;
begin
    select * into k from cvc.api_keys
    where secret_hash = p_secret_hash and revoked_at is null;

    if k.id is null then
        return null;
    end if;

    -- written at most once a minute per key
    if k.last_used_at is null
       or k.last_used_at < cvc.now() - interval '1 minute'
    then
        update cvc.api_keys set last_used_at = cvc.now() where id = k.id;
    end if;

    return jsonb_build_object('kind', 'api_key', 'id', k.id,
                              'point_of_sale', k.point_of_sale_id);
end
$$;

comment on function cvc.api_key_auth(text) is
    'The API key of a secret''s SHA-256, if not revoked; or null.';


-- webhooks

create or replace function cvc.webhook_set(p_kind text, p_id text,
    p_pos text, p_url text, p_new_secret text, p_client_ip text,
    p_request_id text)
returns jsonb language plpgsql as $$
declare
    v jsonb;
begin
    perform cvc.reach_or_404(p_kind, p_id, p_pos);

    update cvc.points_of_sale
    set webhook_url = p_url,
        webhook_secret = coalesce(webhook_secret, p_new_secret)
    where id = p_pos
    returning jsonb_build_object('url', webhook_url, 'secret', webhook_secret)
    into v;

    perform cvc.audit('webhook_updated', p_kind || ':' || p_id, p_client_ip,
                      p_request_id, jsonb_build_object('point_of_sale', p_pos,
                                                       'url', p_url));
    return v;
end
$$;

comment on function cvc.webhook_set(text, text, text, text, text, text, text)
    is 'PUT /api/v1/points-of-sale/{pos}/webhook: keeps an existing secret.';


create or replace function cvc.webhook_get(p_kind text, p_id text,
                                           p_pos text)
returns jsonb language plpgsql stable as $$
begin
    perform cvc.reach_or_404(p_kind, p_id, p_pos);

    return (select jsonb_build_object('url', webhook_url,
                                      'secret', webhook_secret)
            from cvc.points_of_sale
            where id = p_pos and webhook_url is not null);
end
$$;

comment on function cvc.webhook_get(text, text, text) is
    'GET /api/v1/points-of-sale/{pos}/webhook; null when none.';


create or replace function cvc.webhook_delete(p_kind text, p_id text,
    p_pos text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
begin
    perform cvc.reach_or_404(p_kind, p_id, p_pos);

    update cvc.points_of_sale set webhook_url = null, webhook_secret = null
    where id = p_pos and webhook_url is not null;

    if not found then
        perform cvc.fail(404, 'not_found', 'This point of sale has no webhook.');
    end if;

    perform cvc.audit('webhook_deleted', p_kind || ':' || p_id, p_client_ip,
                      p_request_id, jsonb_build_object('point_of_sale', p_pos));
    return '{}'::jsonb;
end
$$;

comment on function cvc.webhook_delete(text, text, text, text, text) is
    'DELETE /api/v1/points-of-sale/{pos}/webhook.';


-- customers

create or replace function cvc.customer_me(p_id text)
returns jsonb language sql stable as $$
    select jsonb_build_object('id', id, 'email', email, 'balance', balance,
                              'currency', 'EUR')
    from cvc.beneficiaries where id = p_id
$$;

comment on function cvc.customer_me(text) is 'GET /api/v1/customer/me.';


create or replace function cvc.payment_code_set(p_id text, p_hash text,
    p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
begin
    -- the password was right, but wrong ones in parallel may have locked
    -- the account since
    if cvc.account_locked('customer', p_id) then
        perform cvc.fail(423, 'account_locked',
                         'This account is locked: contact the '
                         'Cheque-Vacances support to unlock it.');
    end if;

    update cvc.beneficiaries
    set payment_code_hash = p_hash, payment_code_locked_at = null
    where id = p_id;

    perform cvc.audit('payment_code_changed', 'customer:' || p_id,
                      p_client_ip, p_request_id);
    return '{}'::jsonb;
end
$$;

comment on function cvc.payment_code_set(text, text, text, text) is
    'PUT /api/v1/customer/payment-code: a new code, unlocked.';


-- the payment code's hash and state, for the module to check
create or replace function cvc.payment_code_state(p_customer text)
returns jsonb language sql stable as $$
    select jsonb_build_object('hash', payment_code_hash,
                              'locked', payment_code_locked_at is not null)
    from cvc.beneficiaries where id = p_customer
$$;

comment on function cvc.payment_code_state(text) is
    'The payment code hash of a customer and whether it is locked.';


-- a wrong code, the failures'th in a row (cvc.strikes_left): the 3rd
-- locks the code; {locked, attempts_left}
create or replace function cvc.payment_code_failed(p_customer text,
    p_failures int, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
begin
    perform cvc.audit('payment_code_failed', 'customer:' || p_customer,
                      p_client_ip, p_request_id,
                      jsonb_build_object('failures', p_failures));

    -- the 3rd locks, even where a 2nd, checked at the same time, has not
    -- been recorded yet
    if cvc.strikes_left(p_failures) = 0 then
        update cvc.beneficiaries set payment_code_locked_at = cvc.now()
        where id = p_customer and payment_code_locked_at is null;

        if found then
            perform cvc.audit('payment_code_locked',
                              'customer:' || p_customer, p_client_ip,
                              p_request_id);
        end if;
    end if;

    return jsonb_build_object('attempts_left', cvc.strikes_left(p_failures));
end
$$;

comment on function cvc.payment_code_failed(text, int, text, text) is
    'Records a wrong payment code; the 3rd in a row locks the code.';
