-- What the gateway (role cvc) may call. scripts/migrate applies this after
-- sql/functions/*.sql, on every run and in their transaction: CREATE OR
-- REPLACE FUNCTION keeps a function's owner and grants but resets SECURITY
-- DEFINER and SET to the defaults.
--
-- The functions below are the ones the module sends (select cvc.<name>(...)
-- in ngx_cvc_module/*.c; t/055-db-roles.t checks that the two lists are
-- the same). Each runs with its owner's rights (SECURITY DEFINER) and a
-- fixed search_path, so that no schema or temporary object of the caller's
-- can stand in for the names it uses. Every other function of schema cvc
-- (the helpers: ledger_move, pr_release, ...) is callable by its owner
-- only, and so only from inside these: a helper trusts its arguments.
-- The triggers' functions run as their owner too: a deferred trigger
-- (ledger_entries_balanced) fires at the commit, after the API function
-- has returned, as the session's role, which may not read the ledger. No
-- one can call a trigger function but a trigger.
--
-- A new API function: add its name here, in the same change as the C call.

do $$
declare
    v_api constant text[] := array[
        -- merchants and customers: accounts, API keys, webhooks
        'merchant_me', 'points_of_sale_list', 'api_key_create',
        'api_keys_list', 'api_key_revoke', 'webhook_set', 'webhook_get',
        'webhook_delete', 'customer_me', 'business_days',
        -- logins, sessions, password resets, payment codes
        'api_key_auth', 'login_find', 'login_succeeded', 'login_failed',
        'session_ended', 'password_reset_requested', 'password_reset',
        'payment_code_set', 'payment_code_state', 'payment_code_failed',
        -- payment requests
        'pr_create', 'pr_get', 'pr_confirm', 'pr_cancel', 'pr_list',
        'pr_export', 'pr_pay', 'pr_refuse', 'customer_prs',
        'customer_transactions', 'customer_notifications_list',
        -- payouts and webhook deliveries
        'payouts_list', 'payout_get', 'payout_export', 'webhook_deliveries',
        'webhook_retry',
        -- the ops API
        'create_convention', 'create_point_of_sale', 'create_beneficiary',
        'credit_beneficiary', 'unlock_beneficiary', 'clock_set',
        'clock_clear', 'audit_events',
        -- timers and the outbox
        'timers_due', 'fire_timer', 'outbox_claim', 'outbox_done',
        -- metrics and readiness
        'metrics_state'];
    v_db oid := (select oid from pg_database
                 where datname = current_database());
    v_name text;
    v_fn text;
    v_trigger boolean;
begin
    -- owning an object is every right on it, dropping its triggers included

    if exists (select 1 from pg_shdepend
               where refclassid = 'pg_authid'::regclass and deptype = 'o'
                 and refobjid = 'cvc'::regrole
                 and (dbid = v_db or (classid = 'pg_database'::regclass
                                      and objid = v_db)))
    then
        raise exception 'role cvc owns objects of database %',
            current_database()
            using hint = 'As a superuser: reassign owned by cvc to cvc_owner '
                         '(docs/operations.md#database-roles).';
    end if;

    foreach v_name in array v_api loop
        if not exists (select 1 from pg_proc
                       where pronamespace = 'cvc'::regnamespace
                         and proname = v_name)
        then
            raise exception 'sql/grants.sql names cvc.%, which does not exist',
                v_name;
        end if;
    end loop;

    for v_name, v_fn, v_trigger in
        select p.proname,
               format('cvc.%I(%s)', p.proname,
                      pg_get_function_identity_arguments(p.oid)),
               p.prorettype = 'trigger'::regtype
        from pg_proc p
        where p.pronamespace = 'cvc'::regnamespace and p.prokind = 'f'
    loop
        execute format('revoke all on function %s from public', v_fn);

        if v_name = any (v_api) or v_trigger then
            execute format('alter function %s security definer '
                           'set search_path = cvc, pg_temp', v_fn);
        end if;

        if v_name = any (v_api) then
            execute format('grant execute on function %s to cvc', v_fn);
        else
            execute format('revoke all on function %s from cvc', v_fn);
        end if;
    end loop;
end
$$;
