-- The audit log read by operators (GET /ops/v1/audit-events): newest
-- first, and by payment request, the trail of every money action.

create index audit_log_at on cvc.audit_log (at, id);

create index audit_log_payment_request
    on cvc.audit_log ((details->>'payment_request'), at)
    where details ? 'payment_request';

comment on table cvc.audit_log is
    'Every security event and every money action: logins, locks, resets, '
    'sessions ended, API keys, ops provisioning, each payment request''s '
    'transitions. Append-only. GET /ops/v1/audit-events reads it.';
