-- Tags and priority set by agents, plugins and bots (the server's latest). Rows cached before
-- this migration have no tags and normal priority until the server next describes them.

-- JSON array of strings, in the order the tags were added.
alter table conversation add column tags text not null default '[]';
-- 'low', 'normal', 'high' or 'urgent'.
alter table conversation add column priority text not null default 'normal';
