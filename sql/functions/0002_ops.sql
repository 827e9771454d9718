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
