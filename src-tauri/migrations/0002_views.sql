-- What the conversation list, search, unread counts and the customer panel need offline.

alter table conversation add column state text not null default 'assigned';
alter table conversation add column group_name text not null default '';
alter table conversation add column agent_id text;
alter table conversation add column shopper_name text not null default '';
alter table conversation add column last_preview text not null default '';
alter table conversation add column last_at integer not null default 0;
alter table conversation add column created_at integer not null default 0;
alter table conversation add column unread integer not null default 0;
alter table conversation add column read_seq integer not null default 0;
alter table conversation add column queue_position integer;
alter table conversation add column offer_expires_at integer;
alter table conversation add column closed_at integer;

create index conversation_list on conversation (state, last_at);

-- Searchable text of a message (text, note, file name); empty for cards.
alter table message add column text text not null default '';

-- The last customer view received per conversation, shown when the server is unreachable.
create table customer_view (
    conversation_id text primary key,
    json            text not null,
    received_at     integer not null
);
