-- Provisioning by the operator (the ops API).

-- n random digits not yet taken in the given table
create or replace function cvc.new_id(digits int, tbl regclass)
returns text language plpgsql as $$
declare
    candidate text;
    taken boolean;
begin
    loop
        candidate := lpad((floor(random() * 10 ^ digits))::bigint::text,
                          digits, '0');
        execute format('select exists (select 1 from %s where id = $1)', tbl)
            into taken using candidate;
        if not taken then
            return candidate;
        end if;
    end loop;
end
$$;

comment on function cvc.new_id(int, regclass) is
    'A random id of the given number of digits, unused in the table.';


create or replace function cvc.create_convention(p_id text, p_name text,
    p_email text, p_password_hash text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    v_id text := coalesce(p_id, cvc.new_id(6, 'cvc.conventions'));
begin
    insert into cvc.conventions (id, name, email, password_hash, created_at)
    values (v_id, p_name, p_email, p_password_hash, cvc.now());

    perform cvc.audit('convention_created', 'ops', p_client_ip, p_request_id,
                      jsonb_build_object('convention', v_id));

    return jsonb_build_object('id', v_id);
exception
    when unique_violation then
        perform cvc.fail(409, 'already_exists',
                         'A convention with this id already exists.',
                         '{"fields": {"id": "is already taken"}}');
end
$$;

comment on function cvc.create_convention(text, text, text, text, text, text)
    is 'POST /ops/v1/conventions: a convention and its admin account.';


create or replace function cvc.create_point_of_sale(p_convention text,
    p_id text, p_name text, p_email text, p_category text,
    p_password_hash text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    v_id text := coalesce(p_id, cvc.new_id(12, 'cvc.points_of_sale'));
begin
    if not exists (select 1 from cvc.conventions where id = p_convention) then
        perform cvc.fail(422, 'validation_failed', 'Some fields are invalid.',
                         '{"fields": {"convention": "no such convention"}}');
    end if;

    insert into cvc.points_of_sale (id, convention_id, name, email, category,
                                    password_hash, created_at)
    values (v_id, p_convention, p_name, p_email, p_category::cvc.pos_category,
            p_password_hash, cvc.now());

    perform cvc.audit('point_of_sale_created', 'ops', p_client_ip,
                      p_request_id,
                      jsonb_build_object('point_of_sale', v_id,
                                         'convention', p_convention));

    return jsonb_build_object('id', v_id);
exception
    when unique_violation then
        perform cvc.fail(409, 'already_exists',
                         'A point of sale with this id already exists.',
                         '{"fields": {"id": "is already taken"}}');
end
$$;

comment on function cvc.create_point_of_sale(text, text, text, text, text,
                                             text, text, text)
    is 'POST /ops/v1/points-of-sale: a point of sale and its account.';


create or replace function cvc.create_beneficiary(p_id text, p_email text,
    p_password_hash text, p_code_hash text, p_balance bigint,
    p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    v_id text := coalesce(p_id, cvc.new_id(11, 'cvc.beneficiaries'));
begin
    if exists (select 1 from cvc.beneficiaries where id = v_id) then
        perform cvc.fail(409, 'already_exists',
                         'A beneficiary with this id already exists.',
                         '{"fields": {"id": "is already taken"}}');
    end if;

    if exists (select 1 from cvc.beneficiaries
               where lower(email) = lower(p_email))
    then
        perform cvc.fail(409, 'already_exists',
                         'A beneficiary with this e-mail already exists.',
                         '{"fields": {"email": "is already taken"}}');
    end if;

    insert into cvc.beneficiaries (id, email, password_hash,
                                   payment_code_hash, created_at)
    values (v_id, p_email, p_password_hash, p_code_hash, cvc.now());

    if coalesce(p_balance, 0) > 0 then
        perform cvc.ledger_move('credit', 'funding', 'wallet:' || v_id,
                                p_balance);
    end if;

    perform cvc.audit('beneficiary_created', 'ops', p_client_ip, p_request_id,
                      jsonb_build_object('beneficiary', v_id,
                                         'balance', coalesce(p_balance, 0)));

    return jsonb_build_object('id', v_id);
exception
    when unique_violation then
        perform cvc.fail(409, 'already_exists',
                         'A beneficiary with this id or e-mail already '
                         'exists.');
end
$$;

comment on function cvc.create_beneficiary(text, text, text, text, bigint,
                                           text, text)
    is 'POST /ops/v1/beneficiaries: a customer and its wallet.';


-- p_idem_key, p_idem_hash: the Idempotency-Key and the body's hash (a
-- credit unanswered is sent again with its key and made once)
drop function if exists cvc.credit_beneficiary(text, bigint, text, text);

create or replace function cvc.credit_beneficiary(p_id text, p_amount bigint,
    p_idem_key text, p_idem_hash text, p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
declare
    v_hash text := p_id || ' ' || p_idem_hash;
    v_prior jsonb := cvc.idempotency_prior('ops', p_idem_key, v_hash);
begin
    if v_prior is not null then
        return v_prior;
    end if;

    perform 1 from cvc.beneficiaries where id = p_id for update;

    if not found then
        perform cvc.fail(404, 'not_found', 'No such beneficiary.');
    end if;

    perform cvc.ledger_move('credit', 'funding', 'wallet:' || p_id, p_amount);

    perform cvc.audit('beneficiary_credited', 'ops', p_client_ip,
                      p_request_id, jsonb_build_object('beneficiary', p_id,
                                                       'amount', p_amount));

    return cvc.idempotency_keep('ops', p_idem_key, v_hash, 201,
        (select jsonb_build_object('balance', balance)
         from cvc.beneficiaries where id = p_id));
end
$$;

comment on function cvc.credit_beneficiary(text, bigint, text, text, text,
                                           text)
    is 'POST /ops/v1/beneficiaries/{id}/credits: money into a wallet, once '
       'an Idempotency-Key.';


create or replace function cvc.unlock_beneficiary(p_id text,
    p_client_ip text, p_request_id text)
returns jsonb language plpgsql as $$
begin
    update cvc.beneficiaries set locked_at = null where id = p_id;

    if not found then
        perform cvc.fail(404, 'not_found', 'No such beneficiary.');
    end if;

    perform cvc.audit('account_unlocked', 'ops', p_client_ip, p_request_id,
                      jsonb_build_object('beneficiary', p_id));
    return '{}'::jsonb;
end
$$;

comment on function cvc.unlock_beneficiary(text, text, text) is
    'POST /ops/v1/beneficiaries/{id}/unlock: after 3 wrong passwords.';
