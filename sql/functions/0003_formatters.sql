-- The merchant's and customer's words: amounts, times, statuses and
-- types in French, for messages, e-mails and exports.


create or replace function cvc.money_fr(cents bigint) returns text
language sql immutable as $$
    select replace(to_char(cents / 100.0, 'FM999999990.00'), '.', ',')
           || ' €'
$$;

comment on function cvc.money_fr(bigint) is 'Cents as 40,00 €.';


create or replace function cvc.date_fr(t timestamptz) returns text
language sql immutable as $$
    select to_char(t at time zone 'Europe/Paris',
                   'DD/MM/YYYY "à" HH24"h"MI')
$$;

comment on function cvc.date_fr(timestamptz) is
    'A time as 26/06/2020 à 23h59, Europe/Paris.';


create or replace function cvc.time_fr(t timestamptz) returns text
language sql immutable as $$
    select to_char(t at time zone 'Europe/Paris', 'DD/MM/YYYY HH24"h"MI')
$$;

comment on function cvc.time_fr(timestamptz) is
    'A time as 24/06/2020 11h33, Europe/Paris.';


create or replace function cvc.status_fr(s cvc.pr_status) returns text
language sql immutable as $$
    select case s
        when 'awaiting_payment' then 'En attente de paiement client'
        when 'to_validate' then 'A valider'
        when 'validated' then 'Validé'
        when 'cancelled' then 'Annulé'
        when 'expired' then 'Expiré'
        when 'refused' then 'Refusé'
    end
$$;

comment on function cvc.status_fr(cvc.pr_status) is
    'A status as the merchant''s space names it.';


create or replace function cvc.type_fr(t text) returns text
language sql immutable as $$
    select case t
        when 'immediate_payment' then 'Paiement immédiat'
        when 'deferred_payment' then 'Paiement différé'
        when 'pre_reservation' then 'Pré-réservation'
    end
$$;

comment on function cvc.type_fr(text) is
    'A type of payment as the merchant''s space names it.';


create or replace function cvc.html_escape(s text) returns text
language sql immutable as $$
    select replace(replace(replace(s, '&', '&amp;'), '<', '&lt;'), '>',
                   '&gt;')
$$;

comment on function cvc.html_escape(text) is 'Text made safe for HTML.';
