-- The page the shopper was on when last writing, as the widget reported it (the server keeps
-- the latest). Null when unknown.

alter table conversation add column page_url text;
alter table conversation add column page_title text;
alter table conversation add column page_product_id text;
alter table conversation add column page_order_id text;
