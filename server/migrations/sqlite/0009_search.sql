-- Search (store/search.rs, store/sqlite/search.rs): a full-text index of every message's
-- searchable text, by trigrams, so substrings are found in Chinese (no word segmenter
-- needed) and English alike, ignoring case. Needs SQLite 3.43 or later (trigram: 3.34,
-- contentless_delete: 3.43); the bundled one is newer.
--
-- Contentless: the text stays in `message.body` only, the index keeps trigrams and rowids
-- (`message.rowid`). Each text gets a trailing space so that a two-character word at the
-- end of a text still begins a trigram (`退货` in `我要退货 `): two-character words are found
-- through the trigrams they begin (store/sqlite/search.rs).
--
-- What is searchable: text messages and private notes by their text, order and return
-- cards by their numbers (`store::search::searchable_text` says the same in Rust).
create virtual table message_search using fts5(
    text,
    tokenize = 'trigram',
    content = '',
    contentless_delete = 1
);

-- The index's terms (trigrams), to find those a two-character word begins.
create virtual table message_search_terms using fts5vocab(message_search, 'row');

-- Kept in step by triggers, so the message writer (store/sqlite/append.rs) stays as it is.
-- Bodies are never changed once stored; a deleted message leaves the index with it.
create trigger message_search_insert after insert on message
when json_extract(new.body, '$.type') in ('text', 'private_note', 'order_card', 'return_card')
begin
    insert into message_search (rowid, text) values (
        new.rowid,
        case json_extract(new.body, '$.type')
            when 'order_card' then json_extract(new.body, '$.order_id')
            when 'return_card' then json_extract(new.body, '$.return_id') || ' ' || json_extract(new.body, '$.order_id')
            else json_extract(new.body, '$.text')
        end || ' '
    );
end;

create trigger message_search_delete after delete on message
when json_extract(old.body, '$.type') in ('text', 'private_note', 'order_card', 'return_card')
begin
    delete from message_search where rowid = old.rowid;
end;

-- The messages stored before this version.
insert into message_search (rowid, text)
select rowid,
    case json_extract(body, '$.type')
        when 'order_card' then json_extract(body, '$.order_id')
        when 'return_card' then json_extract(body, '$.return_id') || ' ' || json_extract(body, '$.order_id')
        else json_extract(body, '$.text')
    end || ' '
from message
where json_extract(body, '$.type') in ('text', 'private_note', 'order_card', 'return_card');
