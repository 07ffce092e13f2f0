-- The page a shopper was on when last writing (sent by the widget), shown to agents.
alter table conversation add column page_url text;
alter table conversation add column page_title text;
alter table conversation add column page_product_id text;
alter table conversation add column page_order_id text;

-- A shopper's satisfaction rating of a closed conversation: at most one per conversation.
create table rating (
    conversation_id blob primary key references conversation (id),
    score           integer not null check (score between 1 and 5),
    comment         text not null,
    created_at      integer not null
);
