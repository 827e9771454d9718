-- Payment requests, their events, idempotency keys and the customer's
-- in-app notifications.

create type cvc.pr_status as enum (
    'awaiting_payment', 'to_validate', 'validated', 'cancelled', 'expired',
    'refused'
);

comment on type cvc.pr_status is
    'En attente de paiement client, A valider, Valide, Annule, Expire, '
    'Refuse.';


create table cvc.payment_requests (
    id                     text primary key check (id ~ '^pr_[0-9a-f]{24}$'),
    point_of_sale_id       text not null references cvc.points_of_sale,
    mode                   text not null
                           check (mode in ('immediate', 'deferred')),
    status                 cvc.pr_status not null,
    amount                 bigint not null check (amount between 1 and 10000000),
    amount_received        bigint check (amount_received between 1 and amount),
    amount_refunded        bigint not null default 0
                           check (amount_refunded between 0
                                  and coalesce(amount_received, 0)),
    allow_partial          boolean not null,
    basket_number          text not null
                           check (length(basket_number) between 1 and 64),
    customer               text not null,
    beneficiary_id         text not null references cvc.beneficiaries,
    label                  text check (length(label) <= 255),
    customer_reference     text check (length(customer_reference) <= 64),
    seller_id              text check (length(seller_id) <= 64),
    validation_delay_days  int not null check (validation_delay_days
                                               between 0 and 6),
    on_validation_expiry   text not null
                           check (on_validation_expiry in ('cancel',
                                                           'validate')),
    pay_by                 timestamptz not null,
    validation_deadline    timestamptz,
    notify_email           text,
    created_by             text not null,
    created_at             timestamptz not null,
    paid_at                timestamptz,
    validated_at           timestamptz,
    cancelled_at           timestamptz,
    expired_at             timestamptz,
    refused_at             timestamptz,
    reminder_sent_at       timestamptz,
    last_action_at         timestamptz not null,
    check ((paid_at is null) = (amount_received is null)),
    check ((status = 'to_validate') = (validation_deadline is not null
                                       and validated_at is null
                                       and cancelled_at is null
                                       and expired_at is null))
);

comment on table cvc.payment_requests is
    'A merchant''s request for a payment by a beneficiary: immediate or '
    'deferred, a pre-reservation when it has a validation delay.';

-- a basket has one live request per point of sale
create unique index payment_requests_live_basket
    on cvc.payment_requests (point_of_sale_id, basket_number)
    where status in ('awaiting_payment', 'to_validate', 'validated');

-- the operations list: newest last action first, page by page
create index payment_requests_list
    on cvc.payment_requests (point_of_sale_id, last_action_at desc, id desc);

create index payment_requests_list_status
    on cvc.payment_requests (point_of_sale_id, status, last_action_at desc,
                             id desc);

create index payment_requests_beneficiary
    on cvc.payment_requests (beneficiary_id, created_at desc);

-- the timers' sweep: what is due
create index payment_requests_due_payment
    on cvc.payment_requests (pay_by) where status = 'awaiting_payment';

create index payment_requests_due_validation
    on cvc.payment_requests (validation_deadline)
    where status = 'to_validate';


create table cvc.payment_request_events (
    id                  bigint generated always as identity primary key,
    payment_request_id  text not null references cvc.payment_requests,
    type                text not null,
    at                  timestamptz not null,
    actor               text not null,
    details             jsonb not null default '{}'
);

create index payment_request_events_request
    on cvc.payment_request_events (payment_request_id, id);

comment on table cvc.payment_request_events is
    'The history of a payment request: created, paid, refused, confirmed, '
    'cancelled, expired, refunded, reminder_sent... with who and when.';


create table cvc.idempotency_keys (
    scope         text not null,
    key           text not null,
    request_hash  text not null,
    status        int not null,
    response      text not null,
    created_at    timestamptz not null,
    primary key (scope, key)
);

create index idempotency_keys_created on cvc.idempotency_keys (created_at);

comment on table cvc.idempotency_keys is
    'The first answer to a POST with an Idempotency-Key, kept 24 hours, '
    'written in the transaction of what it created.';


create table cvc.customer_notifications (
    id                  bigint generated always as identity primary key,
    beneficiary_id      text not null references cvc.beneficiaries,
    type                text not null,
    payment_request_id  text references cvc.payment_requests,
    message             text not null,
    amount              bigint,
    created_at          timestamptz not null
);

create index customer_notifications_beneficiary
    on cvc.customer_notifications (beneficiary_id, id desc);

comment on table cvc.customer_notifications is
    'In-app messages of the Cheque-Vacances app (new request, confirmed, '
    'cancelled or expired with the amount re-credited...).';


alter table cvc.ledger_movements
    add foreign key (payment_request_id) references cvc.payment_requests;

create index ledger_movements_request
    on cvc.ledger_movements (payment_request_id);
