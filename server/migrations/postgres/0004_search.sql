-- Search (store/search.rs, store/postgres/search.rs): messages are found by substrings of
-- their searchable text, ignoring case (`ilike '%word%'`), through a pg_trgm GIN index, which
-- needs no word segmenter for Chinese. pg_trgm ships with PostgreSQL (contrib) and is a
-- trusted extension: the owner of the database may create it.
create extension if not exists pg_trgm;

-- What is searchable: text messages and private notes by their text, order and return
-- cards by their numbers; null for the rest (`store::search::searchable_text` says the same
-- in Rust). Queries use this very expression, so the index below serves them.
create function search_text(body jsonb) returns text
language sql immutable parallel safe
as $$
    select case body ->> 'type'
        when 'text' then body ->> 'text'
        when 'private_note' then body ->> 'text'
        when 'order_card' then body ->> 'order_id'
        when 'return_card' then (body ->> 'return_id') || ' ' || (body ->> 'order_id')
    end
$$;

create index message_search_text on message using gin (search_text(body) gin_trgm_ops);
