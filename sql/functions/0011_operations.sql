-- What operators watch: the metrics (ngx_http_cvc_prometheus.c), the
-- readiness (GET /api/v1/health/ready) and the audit log (GET
-- /ops/v1/audit-events) read it here.

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


/*
 * GET /ops/v1/audit-events: the audit log, newest first, filtered by
 * account (kind:id, "ops" or "system"), event, payment request and Paris
 * days (from and to included), a page at a time (keyset, as the lists).
 */
create or replace function cvc.audit_events(p_filters jsonb,
    p_cursor text, p_limit int)
returns jsonb language plpgsql stable as $$
declare
    c record := cvc.cursor_decode(p_cursor);
    a cvc.audit_log;
    v_data jsonb := '[]';
    v_last cvc.audit_log;
    n int := 0;
begin
    for a in
        select * from cvc.audit_log l
        where (p_filters->>'account' is null
               or l.account = p_filters->>'account')
          and (p_filters->>'event' is null or l.event = p_filters->>'event')
          and (p_filters->>'payment_request' is null
               or (l.details ? 'payment_request'
                   and l.details->>'payment_request'
                       = p_filters->>'payment_request'))
          and (p_filters->>'from' is null
               or l.at >= cvc.start_of_day((p_filters->>'from')::date))
          and (p_filters->>'to' is null
               or l.at < cvc.start_of_day((p_filters->>'to')::date + 1))
          and (c.at is null
               or (l.at, lpad(l.id::text, 20, '0')) < (c.at, c.id))
        order by l.at desc, l.id desc
        limit p_limit + 1
    loop
        n := n + 1;
        exit when n > p_limit;
        v_data := v_data || jsonb_build_array(jsonb_build_object(
            'id', a.id::text, 'at', cvc.time_json(a.at), 'event', a.event,
            'account', a.account, 'client_ip', host(a.client_ip),
            'request_id', a.request_id, 'details', a.details));
        v_last := a;
    end loop;

    return jsonb_build_object(
        'data', v_data,
        'next_cursor', case when n > p_limit
                            then cvc.cursor_encode(v_last.at,
                                     lpad(v_last.id::text, 20, '0')) end);
end
$$;

comment on function cvc.audit_events(jsonb, text, int) is
    'GET /ops/v1/audit-events: the audit log, newest first, a page.';
