-- Plugins and automation: conversation tags and priority, bot accounts, webhook delivery log.

-- Tags as a JSON array of strings: read with the row, no join on every list.
alter table conversation add column tags text not null default '[]';
-- -1 low, 0 normal, 1 high, 2 urgent. Higher is offered first.
alter table conversation add column priority integer not null default 0;

-- Bots act on conversations over REST with a bearer token (kept as SHA-256 only).
create table bot (
    id blob primary key,
    name text not null unique,
    token_hash text not null unique,
    created_at integer not null,
    last_used_at integer
);

-- Every webhook delivery attempt, newest kept for admins to inspect.
create table webhook_delivery (
    id blob primary key,
    webhook text not null,
    delivery_id blob not null,
    event text not null,
    attempt integer not null,
    at integer not null,
    status integer,
    error text,
    duration_ms integer not null,
    delivered integer not null
);
create index webhook_delivery_at on webhook_delivery (at desc);
