-- What happens without a click: the timers' due list, which the module
-- keeps in Redis, and their firing.  Each transition a timer fires
-- re-checks state and time, so a late or repeated firing changes nothing.


/*
 * The timers due before now + p_horizon, as {"due": [[member, due ms],
 * ...], "clock": the test clock's now in ms, or null}: the module puts them
 * in Redis, where workers claim them.  PostgreSQL is the truth: this
 * rebuilds whatever Redis lost, the test clock's offset included.
 */
create or replace function cvc.timers_due(p_horizon interval)
returns jsonb language sql stable as $$
    with t(member, due) as (
        select 'pay:' || id, pay_by + interval '1 second'
        from cvc.payment_requests
        where status = 'awaiting_payment'
          and pay_by + interval '1 second' <= cvc.now() + p_horizon
        union all
        select 'deadline:' || id, validation_deadline + interval '1 second'
        from cvc.payment_requests
        where status = 'to_validate'
          and validation_deadline + interval '1 second'
              <= cvc.now() + p_horizon
        union all
        select 'remind:' || id, validation_deadline - interval '24 hours'
        from cvc.payment_requests
        where status = 'to_validate' and reminder_sent_at is null
          and validation_deadline - interval '24 hours'
              <= cvc.now() + p_horizon
        union all
        select 'payout:' || id, cvc.start_of_day(scheduled_for)
        from cvc.payouts
        where status = 'scheduled'
          and cvc.start_of_day(scheduled_for) <= cvc.now() + p_horizon
        union all
        select 'outbox:' || id, greatest(next_attempt_at,
                                         coalesce(locked_until,
                                                  next_attempt_at))
        from cvc.outbox
        where sent_at is null
          and greatest(next_attempt_at, coalesce(locked_until,
                                                 next_attempt_at))
              <= cvc.now() + p_horizon
    )
    select jsonb_build_object(
        'clock', (select cvc.ms(cvc.now()) from cvc.test_clock),
        'due', coalesce(jsonb_agg(jsonb_build_array(member, cvc.ms(due))),
                        '[]'))
    from (select * from t order by due limit 5000) x
$$;

comment on function cvc.timers_due(interval) is
    'The timers due soon, for Redis''s sorted set.';


-- fires a timer of a payment request or a payout; a no-op when not due
create or replace function cvc.fire_timer(p_member text)
returns jsonb language plpgsql as $$
declare
    v_kind text := split_part(p_member, ':', 1);
    v_id text := split_part(p_member, ':', 2);
begin
    return case v_kind
        when 'pay' then cvc.pr_expire_payment(v_id)
        when 'deadline' then cvc.pr_deadline(v_id)
        when 'remind' then cvc.pr_remind(v_id)
        when 'payout' then cvc.payout_pay(v_id::bigint)
    end;
end
$$;

comment on function cvc.fire_timer(text) is
    'Timer: the transition a timer stands for, if it is still due.';
