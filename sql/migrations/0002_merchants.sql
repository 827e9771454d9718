-- Conventions (the merchant's admin account, 6 digits) and their points
-- of sale (12 digits), each with its own login.

create type cvc.pos_category as enum (
    'accommodation', 'stays_and_transport', 'leisure_and_culture',
    'sports_leisure', 'restaurants'
);

comment on type cvc.pos_category is
    'Hebergement, Sejours & transports, Loisirs & culture, Loisirs sportifs, '
    'Restauration.';


create table cvc.conventions (
    id             text primary key check (id ~ '^[0-9]{6}$'),
    name           text not null check (length(name) between 1 and 255),
    email          text not null check (length(email) between 3 and 254),
    password_hash  text not null,
    locked_at      timestamptz,
    notify_email   text,
    created_at     timestamptz not null
);

comment on table cvc.conventions is
    'A Cheque-Vacances convention and its administrator account (login: the '
    '6-digit id), which reaches every point of sale of the convention.';


create table cvc.points_of_sale (
    id             text primary key check (id ~ '^[0-9]{12}$'),
    convention_id  text not null references cvc.conventions,
    name           text not null check (length(name) between 1 and 255),
    email          text not null check (length(email) between 3 and 254),
    category       cvc.pos_category not null,
    password_hash  text not null,
    locked_at      timestamptz,
    notify_email   text,
    created_at     timestamptz not null
);

create index points_of_sale_convention on cvc.points_of_sale (convention_id);

comment on table cvc.points_of_sale is
    'A point of sale ("point d''accueil") and its account (login: the '
    '12-digit id), which reaches this point of sale only.';
