-- The desktop's local cache: what the agent saw, and what it wrote while offline.

create table conversation (
    id         text primary key,
    -- Highest seq stored locally; resume asks for everything after it.
    last_seq   integer not null default 0,
    updated_at integer not null
);

create table message (
    conversation_id text not null,
    seq             integer not null,
    id              text not null,
    client_msg_id   text not null,
    sender_role     integer not null,
    sender_name     text not null,
    -- The kefu.v1.Message, protobuf-encoded, exactly as received.
    frame           blob not null,
    created_at      integer not null,
    primary key (conversation_id, seq)
);

-- Messages written but not yet acknowledged, in the order they were written.
create table outbox (
    position        integer primary key autoincrement,
    client_msg_id   text not null unique,
    conversation_id text not null,
    -- The kefu.v1.SendMessage, protobuf-encoded: resent unchanged, so the server dedupes it.
    frame           blob not null,
    created_at      integer not null
);
