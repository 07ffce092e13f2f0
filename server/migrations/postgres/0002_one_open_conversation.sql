-- A shopper has at most one open conversation, whichever node opens it: two tabs writing
-- through two nodes at once could each open one (a node's own lock covers only itself).
-- The index makes the second insert fail, and that node takes the first one's conversation.
-- Pairs an earlier version let through are settled first: all but the newest are closed
-- (reason unspecified: nobody closed them).
update conversation c
set state = 'closed', closed_at = c.updated_at, close_reason = 'CLOSE_REASON_UNSPECIFIED'
where c.state <> 'closed'
  and exists (
    select 1 from conversation n
    where n.visitor_id = c.visitor_id and n.state <> 'closed'
      and (n.created_at, n.id) > (c.created_at, c.id)
  );
create unique index conversation_one_open on conversation (visitor_id) where state <> 'closed';
