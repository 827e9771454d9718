-- Business days: Monday to Friday, except French public holidays. The one
-- implementation: validation deadlines, payouts and GET /business-days.

create or replace function cvc.easter(y int) returns date
language plpgsql immutable as $$
declare
    -- the anonymous Gregorian algorithm (Meeus/Jones/Butcher)
    a int := y % 19;
    b int := y / 100;
    c int := y % 100;
    d int := b / 4;
    e int := b % 4;
    f int := (b + 8) / 25;
    g int := (b - f + 1) / 3;
    h int := (19 * a + b - d - g + 15) % 30;
    i int := c / 4;
    k int := c % 4;
    l int := (32 + 2 * e + 2 * i - h - k) % 7;
    m int := (a + 11 * h + 22 * l) / 451;
begin
    return make_date(y, (h + l - 7 * m + 114) / 31,
                     (h + l - 7 * m + 114) % 31 + 1);
end
$$;

comment on function cvc.easter(int) is 'Easter Sunday of a year.';


create or replace function cvc.is_holiday(d date) returns boolean
language sql immutable as $$
    select to_char(d, 'MM-DD') in ('01-01', '05-01', '05-08', '07-14',
                                   '08-15', '11-01', '11-11', '12-25')
        or d in (cvc.easter(extract(year from d)::int) + 1,   -- Easter Monday
                 cvc.easter(extract(year from d)::int) + 39,  -- Ascension
                 cvc.easter(extract(year from d)::int) + 50)  -- Whit Monday
$$;

comment on function cvc.is_holiday(date) is
    'A French public holiday (metropolitan France).';


create or replace function cvc.is_business_day(d date) returns boolean
language sql immutable as $$
    select extract(isodow from d) < 6 and not cvc.is_holiday(d)
$$;

comment on function cvc.is_business_day(date) is
    'Monday to Friday, not a French public holiday.';


create or replace function cvc.add_business_days(d date, n int) returns date
language plpgsql immutable as $$
declare
    v date := d;
    left_ int := n;
begin
    while left_ > 0 loop
        v := v + 1;
        if cvc.is_business_day(v) then
            left_ := left_ - 1;
        end if;
    end loop;
    return v;
end
$$;

comment on function cvc.add_business_days(date, int) is
    'D + N business days: the Nth business day strictly after D.';


create or replace function cvc.end_of_day(d date) returns timestamptz
language sql immutable as $$
    select (d + time '23:59:59') at time zone 'Europe/Paris'
$$;

comment on function cvc.end_of_day(date) is
    'The end of day D: 23:59:59 Europe/Paris.';


-- the start of day D, Europe/Paris
create or replace function cvc.start_of_day(d date) returns timestamptz
language sql immutable as $$
    select (d + time '00:00') at time zone 'Europe/Paris'
$$;

comment on function cvc.start_of_day(date) is
    '00:00 Europe/Paris on D.';


create or replace function cvc.paris_date(t timestamptz) returns date
language sql immutable as $$
    select (t at time zone 'Europe/Paris')::date
$$;

comment on function cvc.paris_date(timestamptz) is
    'The Europe/Paris calendar day of an instant.';


create or replace function cvc.business_days(p_from date, p_add int)
returns jsonb language sql immutable as $$
    select jsonb_build_object('date',
                              to_char(cvc.add_business_days(p_from, p_add),
                                      'YYYY-MM-DD'))
$$;

comment on function cvc.business_days(date, int) is
    'GET /api/v1/business-days.';
