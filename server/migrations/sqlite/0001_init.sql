-- Kefu schema, SQLite. Ids are UUIDs stored as 16-byte blobs; times are unix milliseconds.
-- Released migrations are never edited: add a new file instead.

create table agent (
    id            blob primary key,
    username      text not null unique,
    display_name  text not null,
    password_hash text not null,
    role          text not null check (role in ('agent', 'supervisor', 'admin')),
    capacity      integer not null check (capacity >= 0),
    disabled      integer not null default 0,
    created_at    integer not null
);

create table agent_group (
    name         text primary key,
    display_name text not null,
    created_at   integer not null
);

create table agent_group_member (
    agent_id   blob not null references agent (id) on delete cascade,
    group_name text not null references agent_group (name) on delete cascade,
    primary key (agent_id, group_name)
);

-- Opaque bearer tokens, stored only as SHA-256 of the token.
create table auth_token (
    token_hash text primary key,
    agent_id   blob not null references agent (id) on delete cascade,
    created_at integer not null,
    expires_at integer not null,
    revoked_at integer
);

create table visitor (
    id           blob primary key,
    site_id      text not null,
    token_hash   text not null unique,
    customer_id  text,
    display_name text not null,
    email        text,
    created_at   integer not null,
    expires_at   integer not null,
    last_agent_id blob
);
create unique index visitor_customer on visitor (site_id, customer_id) where customer_id is not null;

create table conversation (
    id           blob primary key,
    site_id      text not null,
    visitor_id   blob not null references visitor (id),
    group_name   text not null,
    state        text not null check (state in ('queued', 'assigned', 'closed')),
    agent_id     blob references agent (id),
    last_seq     integer not null default 0,
    created_at   integer not null,
    updated_at   integer not null,
    closed_at    integer,
    close_reason text
);
create index conversation_state on conversation (state, updated_at);
create index conversation_visitor on conversation (visitor_id, created_at);
create index conversation_agent on conversation (agent_id, state);

create table message (
    id            blob primary key,
    conversation_id blob not null references conversation (id),
    seq           integer not null,
    client_msg_id text not null,
    sender_role   text not null,
    sender_id     blob not null,
    sender_name   text not null,
    private       integer not null,
    body          text not null,
    created_at    integer not null,
    unique (conversation_id, seq),
    unique (sender_id, client_msg_id)
);

create table canned_reply (
    id         blob primary key,
    shortcut   text not null unique,
    title      text not null,
    body       text not null,
    created_by blob not null,
    created_at integer not null,
    updated_at integer not null
);

create table attachment (
    id              blob primary key,
    conversation_id blob not null references conversation (id),
    uploader_id     blob not null,
    file_name       text not null,
    content_type    text not null,
    size_bytes      integer not null,
    sha256          text not null,
    created_at      integer not null
);
