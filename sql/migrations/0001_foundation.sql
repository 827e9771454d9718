-- The gateway's schema, its clock and its audit trail.

create schema if not exists cvc;

comment on schema cvc is
    'CVC gateway: accounts, payment requests, ledger, outbox, audit.';


create table cvc.test_clock (
    id      boolean primary key default true check (id),
    base    timestamptz not null,
    set_at  timestamptz not null
);

comment on table cvc.test_clock is
    'The test clock, when set (only where nginx allows it): "now" is base '
    'plus the real time elapsed since set_at. No row: the real clock.';


create table cvc.audit_log (
    id          bigint generated always as identity primary key,
    at          timestamptz not null,
    event       text not null,
    account     text,
    client_ip   inet,
    request_id  text,
    details     jsonb not null default '{}'
);

create index audit_log_account_at on cvc.audit_log (account, at);

comment on table cvc.audit_log is
    'Every security event: logins, locks, resets, sessions ended, API keys, '
    'ops provisioning. Append-only.';
