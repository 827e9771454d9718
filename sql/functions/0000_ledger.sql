-- The ledger: every movement of money is entries that sum to zero, and a
-- wallet's balance moves with its ledger account in the same statement.

create or replace function cvc.ledger_move(p_kind text, p_from text,
    p_to text, p_amount bigint, p_payment_request text default null,
    p_payout bigint default null)
returns bigint language plpgsql as $$
declare
    v_movement bigint;
begin
    insert into cvc.ledger_movements (kind, at, payment_request_id, payout_id)
    values (p_kind, cvc.now(), p_payment_request, p_payout)
    returning id into v_movement;

    insert into cvc.ledger_entries (movement_id, account, amount)
    values (v_movement, p_from, -p_amount), (v_movement, p_to, p_amount);

    -- a wallet can't go below zero: its CHECK fails the transaction
    update cvc.beneficiaries set balance = balance - p_amount
    where p_from like 'wallet:%' and id = substr(p_from, 8);

    update cvc.beneficiaries set balance = balance + p_amount
    where p_to like 'wallet:%' and id = substr(p_to, 8);

    return v_movement;
end
$$;

comment on function cvc.ledger_move(text, text, text, bigint, text, bigint) is
    'Moves p_amount cents from one ledger account to another.';
