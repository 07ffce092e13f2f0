-- Reports and the supervisor's floor read these facts from the conversation row instead of
-- scanning messages; the server keeps them true as events happen. Rows older than this
-- migration keep nulls/0 (their history is not reconstructed).

-- How the conversation was opened: 'web' (widget / chat page) or 'api' (bot REST).
alter table conversation add column channel text not null default 'web';
-- Time of the first public message from a human agent (null until there is one).
alter table conversation add column first_response_at integer;
-- Time of the newest public message from a human agent.
alter table conversation add column last_agent_reply_at integer;
-- How many times it was transferred (reassigned to another agent or group).
alter table conversation add column transfers integer not null default 0;
-- When it last entered a queue (opened, requeued, reopened).
alter table conversation add column queued_at integer;
-- When it was last assigned to an agent.
alter table conversation add column assigned_at integer;

update conversation set queued_at = created_at where state = 'queued';

-- Reports read the conversations opened in a range from this index alone (it holds every
-- column they read or filter on but the tags), in order, without visiting the table.
create index conversation_report on conversation (
    created_at, site_id, group_name, agent_id, channel, first_response_at, closed_at,
    transfers, id
);

-- A service-level breach: one row per conversation and target, ever (inserted with
-- `on conflict do nothing`, so a breach fires once).
create table sla_breach (
    conversation_id blob not null references conversation (id),
    -- Which target was missed.
    target          text not null check (target in ('first_response', 'resolution')),
    -- When the target fell due.
    due_at          integer not null,
    -- When the breach was recorded.
    at              integer not null,
    primary key (conversation_id, target)
);
-- Breaches noticed in a range, read from the index alone (reports).
create index sla_breach_at on sla_breach (at, conversation_id, target);

-- Ratings given in a range, read from the index alone (reports).
create index rating_created on rating (created_at, conversation_id, score);
