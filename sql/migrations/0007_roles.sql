-- Two roles (docs/security.md#database-roles): cvc_owner, which runs the
-- migrations, owns the schema, the tables and the functions; cvc, the
-- gateway's login, owns nothing, reads and writes no table itself and only
-- calls the API's functions, which run with the owner's rights
-- (sql/grants.sql, applied after the functions on every migrate). The roles
-- themselves are the cluster's: scripts/stack creates them, ops in
-- production (docs/operations.md#database-roles).

-- nothing to anyone but what is granted below or by sql/grants.sql

revoke all on schema cvc from public, cvc;
revoke all on all tables in schema cvc from public, cvc;
revoke all on all sequences in schema cvc from public, cvc;
revoke all on all functions in schema cvc from public, cvc;
revoke all on table public.schema_migrations from public, cvc;

-- new functions are not everyone's to call (the default gives EXECUTE to
-- PUBLIC); sql/grants.sql revokes it anyway, for functions made before

alter default privileges revoke execute on functions from public;

-- the gateway resolves the names cvc.<function>; nothing more

grant usage on schema cvc to cvc;

comment on schema cvc is
    'CVC gateway: accounts, payment requests, ledger, outbox, audit. Owned '
    'by cvc_owner; the gateway (role cvc) may only call the functions that '
    'sql/grants.sql lists.';
