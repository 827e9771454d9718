-- Payouts ("Mes remboursements"): the requests of a point of sale validated
-- on the same Europe/Paris day, paid in one transfer 5 business days later.

create table cvc.payouts (
    id                bigint generated always as identity primary key,
    point_of_sale_id  text not null references cvc.points_of_sale,
    business_date     date not null,
    amount            bigint not null default 0 check (amount >= 0),
    count             int not null default 0 check (count >= 0),
    scheduled_for     date not null,
    status            text not null default 'scheduled'
                      check (status in ('scheduled', 'paid')),
    paid_at           timestamptz,
    unique (point_of_sale_id, business_date)
);

create index payouts_due on cvc.payouts (scheduled_for)
    where status = 'scheduled';

comment on table cvc.payouts is
    'One transfer to a point of sale''s bank account: the requests it '
    'validated on business_date, paid on scheduled_for.';


alter table cvc.payment_requests
    add column payout_id bigint references cvc.payouts;

create index payment_requests_payout on cvc.payment_requests (payout_id);

alter table cvc.ledger_movements
    add foreign key (payout_id) references cvc.payouts;


-- webhook deliveries: the outbox rows of kind 'webhook', and their attempts
alter table cvc.outbox
    add column point_of_sale_id text references cvc.points_of_sale,
    add column payment_request_id text references cvc.payment_requests,
    add column last_status int,
    add column locked_until timestamptz;

create index outbox_webhooks on cvc.outbox (point_of_sale_id, id desc)
    where kind = 'webhook';

create index outbox_request_order on cvc.outbox (payment_request_id, id)
    where kind = 'webhook' and sent_at is null;
