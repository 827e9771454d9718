-- What operators watch: the metrics (ngx_http_cvc_metrics.c) and the
-- readiness (GET /api/v1/health/ready) read it here.

-- the newest migration applied, and the outbox's messages not sent yet,
-- by kind: how many, how many have failed at least once, the age of the
-- oldest (seconds, on the test clock)
create or replace function cvc.metrics_state()
returns jsonb language sql stable as $$
    select jsonb_build_object(
        'schema', (select max(name) from public.schema_migrations),
        'outbox', coalesce((
            select jsonb_object_agg(kind, jsonb_build_object(
                       'pending', pending, 'retrying', retrying,
                       'oldest_seconds', oldest))
            from (select kind, count(*) as pending,
                         count(*) filter (where attempts > 0) as retrying,
                         round(extract(epoch from cvc.now() - min(created_at))
                               ::numeric, 3) as oldest
                  from cvc.outbox where sent_at is null
                  group by kind) o), '{}'::jsonb))
$$;

comment on function cvc.metrics_state() is
    'The schema''s newest migration and the outbox''s backlog by kind.';
