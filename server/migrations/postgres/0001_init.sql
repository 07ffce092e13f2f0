-- Kefu schema, PostgreSQL: the same tables and meaning as migrations/sqlite/0001–0006, one
-- file because PostgreSQL support starts here. Ids are uuid (UUIDv7 made in Rust), times
-- bigint unix milliseconds, as in the model; JSON is jsonb. Every integer the model reads as
-- i64 is bigint (sqlx decodes i64 from int8 only).
-- Released migrations are never edited: add a new file instead.

create table agent (
    id            uuid primary key,
    username      text not null unique,
    display_name  text not null,
    password_hash text not null,
    role          text not null check (role in ('agent', 'supervisor', 'admin')),
    capacity      bigint not null check (capacity >= 0),
    disabled      boolean not null default false,
    created_at    bigint not null
);

create table agent_group (
    name         text primary key,
    display_name text not null,
    created_at   bigint not null
);

create table agent_group_member (
    agent_id   uuid not null references agent (id) on delete cascade,
    group_name text not null references agent_group (name) on delete cascade,
    primary key (agent_id, group_name)
);
-- A group's members (the primary key serves lookups by agent).
create index agent_group_member_group on agent_group_member (group_name);

-- Opaque bearer tokens, stored only as SHA-256 of the token.
create table auth_token (
    token_hash text primary key,
    agent_id   uuid not null references agent (id) on delete cascade,
    created_at bigint not null,
    expires_at bigint not null,
    revoked_at bigint
);
-- Revoking an agent's tokens (disabled, new password) and the cascade on delete.
create index auth_token_agent on auth_token (agent_id);

create table visitor (
    id            uuid primary key,
    site_id       text not null,
    token_hash    text not null unique,
    customer_id   text,
    display_name  text not null,
    email         text,
    -- The phone number a shopper gave, to find them in the back office when not signed in.
    phone         text,
    created_at    bigint not null,
    expires_at    bigint not null,
    last_agent_id uuid,
    -- When a supervisor blocked this shopper (null: not blocked).
    blocked_at    bigint
);
create unique index visitor_customer on visitor (site_id, customer_id) where customer_id is not null;

create table conversation (
    id              uuid primary key,
    site_id         text not null,
    visitor_id      uuid not null references visitor (id),
    group_name      text not null,
    state           text not null check (state in ('queued', 'assigned', 'closed')),
    agent_id        uuid references agent (id),
    -- The last seq handed out; the message writer raises it in the transaction that stores
    -- the messages, under the row's lock, so seqs are gapless whichever node writes.
    last_seq        bigint not null default 0,
    created_at      bigint not null,
    updated_at      bigint not null,
    closed_at       bigint,
    close_reason    text,
    -- The page the shopper was on when last writing (sent by the widget).
    page_url        text,
    page_title      text,
    page_product_id text,
    page_order_id   text,
    -- Tags as a JSON array of strings, in the order added: read with the row, no join.
    tags            jsonb not null default '[]',
    -- -1 low, 0 normal, 1 high, 2 urgent. Higher is offered first.
    priority        bigint not null default 0
);
create index conversation_state on conversation (state, updated_at);
create index conversation_visitor on conversation (visitor_id, created_at);
create index conversation_agent on conversation (agent_id, state);

create table message (
    id              uuid primary key,
    conversation_id uuid not null references conversation (id),
    seq             bigint not null,
    client_msg_id   text not null,
    sender_role     text not null,
    sender_id       uuid not null,
    sender_name     text not null,
    private         boolean not null,
    body            jsonb not null,
    created_at      bigint not null,
    -- Reading a conversation by seq.
    unique (conversation_id, seq),
    -- The idempotency key: a resend finds the stored message (`on conflict … do nothing`).
    unique (sender_id, client_msg_id)
);

create table canned_reply (
    id         uuid primary key,
    shortcut   text not null unique,
    title      text not null,
    body       text not null,
    created_by uuid not null,
    created_at bigint not null,
    updated_at bigint not null
);

create table attachment (
    id              uuid primary key,
    conversation_id uuid not null references conversation (id),
    uploader_id     uuid not null,
    file_name       text not null,
    content_type    text not null,
    size_bytes      bigint not null,
    sha256          text not null,
    created_at      bigint not null
);

-- Who did what to the retailer's systems from a chat, when, and how it went. `details` is
-- the request as JSON text, kept as text: an audit record keeps what was sent byte for
-- byte, where jsonb would reorder keys and drop whitespace.
create table audit_log (
    id              uuid primary key,
    at              bigint not null,
    actor_id        uuid not null,
    actor_role      text not null,
    action          text not null,
    conversation_id uuid,
    target          text not null,
    details         text not null,
    result          text not null check (result in ('ok', 'failed', 'refused')),
    error           text
);
create index audit_log_conversation on audit_log (conversation_id, at);
create index audit_log_at on audit_log (at);

-- A shopper's satisfaction rating of a closed conversation: at most one per conversation.
create table rating (
    conversation_id uuid primary key references conversation (id),
    score           bigint not null check (score between 1 and 5),
    comment         text not null,
    created_at      bigint not null
);

-- Bots act on conversations over REST with a bearer token (kept as SHA-256 only).
create table bot (
    id           uuid primary key,
    name         text not null unique,
    token_hash   text not null unique,
    created_at   bigint not null,
    last_used_at bigint
);

-- Every webhook delivery attempt, newest kept for admins to inspect.
create table webhook_delivery (
    id          uuid primary key,
    webhook     text not null,
    delivery_id uuid not null,
    event       text not null,
    attempt     bigint not null,
    at          bigint not null,
    status      bigint,
    error       text,
    duration_ms bigint not null,
    delivered   boolean not null
);
create index webhook_delivery_at on webhook_delivery (at desc, id desc);
