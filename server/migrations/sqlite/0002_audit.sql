-- Who did what to the retailer's systems from a chat, when, and how it went.
create table audit_log (
    id              blob primary key,
    at              integer not null,
    actor_id        blob not null,
    actor_role      text not null,
    action          text not null,
    conversation_id blob,
    target          text not null,
    details         text not null,
    result          text not null check (result in ('ok', 'failed', 'refused')),
    error           text
);
create index audit_log_conversation on audit_log (conversation_id, at);
create index audit_log_at on audit_log (at);
