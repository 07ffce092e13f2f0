-- When a supervisor blocked this shopper (null: not blocked). A blocked visitor's token is
-- refused everywhere and its sessions cannot be restarted.
alter table visitor add column blocked_at integer;
