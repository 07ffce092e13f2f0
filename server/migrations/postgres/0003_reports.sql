-- Reports and the supervisor's floor read these facts from the conversation row instead of
-- scanning messages; the server keeps them true as events happen. Rows older than this
-- migration keep nulls/0 (their history is not reconstructed).
alter table conversation
    -- How the conversation was opened: 'web' (widget / chat page) or 'api' (bot REST).
    add column channel text not null default 'web',
    -- Time of the first public message from a human agent (null until there is one).
    add column first_response_at bigint,
    -- Time of the newest public message from a human agent.
    add column last_agent_reply_at bigint,
    -- How many times it was transferred (reassigned to another agent or group).
    add column transfers bigint not null default 0,
    -- When it last entered a queue (opened, requeued, reopened).
    add column queued_at bigint,
    -- When it was last assigned to an agent.
    add column assigned_at bigint;

update conversation set queued_at = created_at where state = 'queued';

-- Reports select the conversations opened in a range.
create index conversation_created on conversation (created_at);

-- A service-level breach: one row per conversation and target, ever (inserted with
-- `on conflict do nothing`, so a breach fires once).
create table sla_breach (
    conversation_id uuid not null references conversation (id),
    -- Which target was missed.
    target          text not null check (target in ('first_response', 'resolution')),
    -- When the target fell due.
    due_at          bigint not null,
    -- When the breach was recorded.
    at              bigint not null,
    primary key (conversation_id, target)
);
