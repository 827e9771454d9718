-- Beneficiaries (customers) and their wallets, the ledger, API keys,
-- webhook settings and the outbox.

create table cvc.beneficiaries (
    id                      text primary key check (id ~ '^[0-9]{11}$'),
    email                   text not null
                            check (length(email) between 3 and 254),
    password_hash           text not null,
    payment_code_hash       text not null,
    payment_code_locked_at  timestamptz,
    locked_at               timestamptz,
    balance                 bigint not null default 0 check (balance >= 0),
    created_at              timestamptz not null
);

create unique index beneficiaries_email on cvc.beneficiaries (lower(email));

comment on table cvc.beneficiaries is
    'A Cheque-Vacances Connect beneficiary (login: the 11-digit id or the '
    'contact e-mail) and the balance of its wallet, in cents, which the '
    'ledger account wallet:<id> always equals.';


create table cvc.ledger_movements (
    id                  bigint generated always as identity primary key,
    kind                text not null
                        check (kind in ('credit', 'payment', 'refund',
                                        'payout')),
    at                  timestamptz not null,
    payment_request_id  text,
    payout_id           bigint
);

comment on table cvc.ledger_movements is
    'One movement of money: its entries sum to zero. Append-only.';


create table cvc.ledger_entries (
    id           bigint generated always as identity primary key,
    movement_id  bigint not null references cvc.ledger_movements,
    account      text not null,
    amount       bigint not null check (amount <> 0)
);

create index ledger_entries_movement on cvc.ledger_entries (movement_id);
create index ledger_entries_account on cvc.ledger_entries (account, id);

comment on table cvc.ledger_entries is
    'The entries of the movements, in cents: funding (the money that comes '
    'in), wallet:<beneficiary>, merchant_pending:<pos>, merchant_paid:<pos>. '
    'Append-only.';


create function cvc.ledger_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'the ledger is append-only';
end
$$;

comment on function cvc.ledger_append_only() is
    'Refuses any update or delete of the ledger.';

create trigger ledger_movements_append_only
    before update or delete on cvc.ledger_movements
    for each statement execute function cvc.ledger_append_only();

create trigger ledger_entries_append_only
    before update or delete on cvc.ledger_entries
    for each statement execute function cvc.ledger_append_only();


create function cvc.ledger_check_balanced() returns trigger
language plpgsql as $$
begin
    if (select sum(amount) from cvc.ledger_entries
        where movement_id = new.movement_id) <> 0
    then
        raise exception 'ledger movement % does not sum to zero',
            new.movement_id;
    end if;
    return null;
end
$$;

comment on function cvc.ledger_check_balanced() is
    'At commit: the movement of the new entry sums to zero.';

create constraint trigger ledger_entries_balanced
    after insert on cvc.ledger_entries
    deferrable initially deferred
    for each row execute function cvc.ledger_check_balanced();


create table cvc.api_keys (
    id                 text primary key check (id ~ '^ak_[0-9a-f]{24}$'),
    point_of_sale_id   text not null references cvc.points_of_sale,
    name               text not null check (length(name) between 1 and 100),
    secret_hash        text not null unique,
    created_at         timestamptz not null,
    last_used_at       timestamptz,
    revoked_at         timestamptz
);

create index api_keys_point_of_sale on cvc.api_keys (point_of_sale_id);

comment on table cvc.api_keys is
    'A partner site''s key to the API of one point of sale. Only the '
    'SHA-256 of the secret is kept (the secret is 256 random bits).';


alter table cvc.points_of_sale
    add column webhook_url text
        check (webhook_url ~ '^https?://' and length(webhook_url) <= 2048),
    add column webhook_secret text;

comment on column cvc.points_of_sale.webhook_secret is
    'The key of the HMAC-SHA256 of the webhook deliveries (Cvc-Signature).';


create table cvc.outbox (
    id               bigint generated always as identity primary key,
    kind             text not null check (kind in ('email', 'webhook')),
    recipient        text not null,
    template         text not null,
    payload          jsonb not null,
    created_at       timestamptz not null,
    attempts         int not null default 0,
    next_attempt_at  timestamptz not null,
    sent_at          timestamptz,
    last_error       text
);

create index outbox_due on cvc.outbox (next_attempt_at) where sent_at is null;

comment on table cvc.outbox is
    'Messages to send (e-mails, webhook events), written in the transaction '
    'of the change they report, delivered at least once later.';
