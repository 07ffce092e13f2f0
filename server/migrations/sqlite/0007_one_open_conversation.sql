-- A shopper has at most one open conversation. One node's lock already keeps it so; the
-- index says it in the schema, as on PostgreSQL (where several nodes open conversations).
-- Pairs an earlier version let through are settled first: all but the newest are closed
-- (reason unspecified: nobody closed them).
update conversation
set state = 'closed', closed_at = updated_at, close_reason = 'CLOSE_REASON_UNSPECIFIED'
where state <> 'closed'
  and exists (
    select 1 from conversation n
    where n.visitor_id = conversation.visitor_id and n.state <> 'closed'
      and (n.created_at, n.id) > (conversation.created_at, conversation.id)
  );
create unique index conversation_one_open on conversation (visitor_id) where state <> 'closed';
