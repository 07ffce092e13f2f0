//! [`Search`] on SQLite, over the FTS5 `trigram` index `message_search` that triggers keep
//! (`migrations/sqlite/0009_search.sql`).
//!
//! Each word of the text becomes part of one FTS5 query, all of them required in the same
//! message:
//! - Three characters or more: a phrase, which the trigram tokenizer matches as a
//!   substring, ignoring case; ranked by bm25.
//! - Shorter (`退货`, `ok`: Chinese words are often two characters, and a trigram index
//!   cannot look up fewer than three): every indexed trigram the word begins, ORed
//!   (`"退货了" OR "退货 " OR …`). Each indexed text ends in a space, so a word at the very
//!   end begins one too; the words are found through the index and ranked like long ones.
//!   Should a word begin more than [`MAX_TERMS`] trigrams (a single common letter), it is
//!   checked by `like` on the messages the other words found instead, or on every message
//!   when it has no longer company: correct, but a scan.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite, sqlite::SqliteRow, types::Json};
use uuid::Uuid;

use super::{SqliteStore, error::Db, named};
use crate::store::{
    Body, Search, SearchPage, SearchQuery, SearchResult, SearchScope, StoreResult,
    search::{like_pattern, searchable_text, snippet},
};

/// Most trigrams a short word is looked up by; past it, the word is checked by scanning.
const MAX_TERMS: usize = 2000;

/// The searchable text of message `m`, as the trigger indexes it (without its trailing
/// space), for the words checked by `like`.
const SEARCH_TEXT: &str = "(case json_extract(m.body, '$.type') \
     when 'text' then json_extract(m.body, '$.text') \
     when 'private_note' then json_extract(m.body, '$.text') \
     when 'order_card' then json_extract(m.body, '$.order_id') \
     when 'return_card' then json_extract(m.body, '$.return_id') || ' ' || json_extract(m.body, '$.order_id') \
     end)";

/// How the messages matching some words are found.
#[derive(Debug, Default)]
struct WordsMatch {
    /// FTS5 queries, one per word the index answers.
    fts: Vec<String>,
    /// `like` patterns of the words checked by scanning.
    scans: Vec<String>,
    /// A word begins no indexed trigram: no message has it.
    never: bool,
}

/// An FTS5 string: the text taken literally.
fn fts_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

impl SqliteStore {
    /// How to find the messages holding every one of `words`.
    async fn words_match(&self, words: &[String], max_terms: usize) -> StoreResult<WordsMatch> {
        let mut m = WordsMatch::default();
        for word in words {
            if word.chars().count() >= 3 {
                m.fts.push(fts_string(word));
                continue;
            }
            // The tokenizer folds case; so must the prefix, to find its terms.
            let prefix: String = word.chars().flat_map(char::to_lowercase).collect();
            let terms: Vec<String> = sqlx::query_scalar(
                "select term from message_search_terms \
                 where term >= ?1 and term <= ?1 || char(1114111) limit ?2",
            )
            .bind(&prefix)
            .bind(max_terms as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .db()?;
            if terms.is_empty() {
                m.never = true;
            } else if terms.len() > max_terms {
                m.scans.push(like_pattern(word));
            } else {
                let any: Vec<String> = terms.iter().map(|t| fts_string(t)).collect();
                m.fts.push(format!("({})", any.join(" OR ")));
            }
        }
        Ok(m)
    }

    /// `search` with a chosen [`MAX_TERMS`] (tests lower it to reach the scan).
    async fn search_with(&self, q: &SearchQuery, max_terms: usize) -> StoreResult<SearchPage> {
        let words = q.words();
        // The words that pick the message a result shows: the text's, else the order's.
        let (hit_words, hits_required) = match (&q.order, words.is_empty()) {
            (Some(order), true) => (vec![order.clone()], false),
            _ => (words.clone(), true),
        };
        let hits = if hit_words.is_empty() {
            None
        } else {
            Some(self.words_match(&hit_words, max_terms).await?)
        };
        // With text given, the order is one more condition on the conversation.
        let order_match = match (&q.order, hits_required && hits.is_some()) {
            (Some(order), true) => Some(
                self.words_match(std::slice::from_ref(order), max_terms)
                    .await?,
            ),
            _ => None,
        };
        let page = |offset: i64, limit: i64| {
            let mut qb = QueryBuilder::<Sqlite>::new("");
            if let Some(h) = &hits {
                qb.push("with hits as (");
                push_hits(&mut qb, h, q.include_private);
                qb.push(") ");
            }
            qb.push(
                "select c.id, c.site_id, c.group_name, c.state, c.agent_id, c.tags, \
                 c.created_at, c.updated_at, v.display_name as customer_name, ",
            );
            qb.push(if hits.is_some() {
                "h.seq as seq, "
            } else {
                "null as seq, "
            });
            qb.push("count(*) over () as total from conversation c join visitor v on v.id = c.visitor_id ");
            if hits.is_some() {
                qb.push(if hits_required { "join" } else { "left join" })
                    .push(" hits h on h.conv = c.id ");
            }
            qb.push("where true");
            push_filters(&mut qb, q, order_match.as_ref());
            qb.push(if hits.is_some() {
                " order by coalesce(h.relevance, 0) desc, c.updated_at desc, c.id desc"
            } else {
                " order by c.updated_at desc, c.id desc"
            });
            qb.push(" limit ").push_bind(limit);
            qb.push(" offset ").push_bind(offset);
            qb
        };
        let rows = page(q.offset, q.limit)
            .build()
            .fetch_all(&self.pool)
            .await
            .db()?;
        let total = match rows.first() {
            Some(row) => row.try_get("total").db()?,
            // Past the last page: count what the first would have.
            None if q.offset > 0 => {
                match page(0, 1).build().fetch_optional(&self.pool).await.db()? {
                    Some(row) => row.try_get("total").db()?,
                    None => 0,
                }
            }
            None => 0,
        };
        let mut results = Vec::with_capacity(rows.len());
        for row in &rows {
            results.push(result(row).db()?);
        }
        self.snippets(&mut results, &hit_words, q.include_private)
            .await?;
        Ok(SearchPage { total, results })
    }

    /// Each result's snippet: from its matching message around `words`, or, where none
    /// matched, the start of its first message. Read for the page only: the ranking carries
    /// no message bodies.
    async fn snippets(
        &self,
        results: &mut [SearchResult],
        words: &[String],
        include_private: bool,
    ) -> StoreResult<()> {
        let matched: Vec<(Uuid, i64)> = results
            .iter()
            .filter_map(|r| Some((r.conversation_id, r.seq?)))
            .collect();
        if !matched.is_empty() {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "select conversation_id, body from message where (conversation_id, seq) in (values ",
            );
            let mut rows = qb.separated(", ");
            for (conv, seq) in &matched {
                rows.push("(")
                    .push_bind_unseparated(*conv)
                    .push_unseparated(", ")
                    .push_bind_unseparated(*seq)
                    .push_unseparated(")");
            }
            qb.push(")");
            let bodies: Vec<(Uuid, Json<Body>)> =
                qb.build_query_as().fetch_all(&self.pool).await.db()?;
            set_snippets(results, bodies, words);
        }
        let unmatched: Vec<Uuid> = results
            .iter()
            .filter(|r| r.seq.is_none())
            .map(|r| r.conversation_id)
            .collect();
        if !unmatched.is_empty() {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "select m.conversation_id, min(m.seq), m.body from message m where m.conversation_id in (",
            );
            let mut ids = qb.separated(", ");
            for id in &unmatched {
                ids.push_bind(*id);
            }
            qb.push(") and ").push(SEARCH_TEXT).push(" is not null");
            if !include_private {
                qb.push(" and m.private = 0");
            }
            qb.push(" group by m.conversation_id");
            let firsts: Vec<(Uuid, i64, Json<Body>)> =
                qb.build_query_as().fetch_all(&self.pool).await.db()?;
            let firsts = firsts.into_iter().map(|(conv, _, body)| (conv, body));
            set_snippets(results, firsts.collect(), &[]);
        }
        Ok(())
    }
}

/// The `hits` table: per conversation, its best message holding every word (`conv`,
/// `relevance`: higher is better, `seq`); of equals, the first.
fn push_hits(qb: &mut QueryBuilder<Sqlite>, m: &WordsMatch, include_private: bool) {
    if m.never {
        qb.push("select null as conv, 0.0 as relevance, null as seq where 0");
        return;
    }
    qb.push(
        "select conv, relevance, seq from (select *, row_number() over \
         (partition by conv order by relevance desc, seq) as place from (",
    );
    if m.fts.is_empty() {
        // Every word is scanned for: no ranking but recency.
        qb.push(
            "select m.conversation_id as conv, 0.0 as relevance, m.seq as seq \
             from message m where true",
        );
    } else {
        qb.push(
            "select m.conversation_id as conv, -bm25(message_search) as relevance, \
             m.seq as seq \
             from message_search join message m on m.rowid = message_search.rowid \
             where message_search match ",
        )
        .push_bind(m.fts.join(" AND "));
    }
    for pattern in &m.scans {
        qb.push(" and ")
            .push(SEARCH_TEXT)
            .push(" like ")
            .push_bind(pattern.clone())
            .push(" escape '\\'");
    }
    if !include_private {
        qb.push(" and m.private = 0");
    }
    qb.push(")) where place = 1");
}

/// The conditions on conversation `c` and its visitor `v` (and `h`, when the order picks the
/// hits).
fn push_filters(qb: &mut QueryBuilder<Sqlite>, q: &SearchQuery, order_match: Option<&WordsMatch>) {
    if let SearchScope::Agent { agent_id, groups } = &q.scope {
        qb.push(" and (c.group_name in (");
        let mut sep = qb.separated(", ");
        sep.push_bind(""); // never a group: keeps `in ()` valid when the list is empty
        for g in groups {
            sep.push_bind(g.clone());
        }
        qb.push(") or ");
        push_handled_by(qb, *agent_id);
        qb.push(")");
    }
    if let Some(customer) = &q.customer {
        let pattern = like_pattern(customer);
        qb.push(" and (");
        for (i, column) in ["v.display_name", "v.email", "v.phone", "v.customer_id"]
            .iter()
            .enumerate()
        {
            if i > 0 {
                qb.push(" or ");
            }
            qb.push(column)
                .push(" like ")
                .push_bind(pattern.clone())
                .push(" escape '\\'");
        }
        qb.push(")");
    }
    if let Some(order) = &q.order {
        qb.push(" and (c.page_order_id like ")
            .push_bind(like_pattern(order))
            .push(" escape '\\' or ");
        match order_match {
            Some(m) => {
                qb.push("c.id in (select conv from (");
                push_hits(qb, m, q.include_private);
                qb.push("))");
            }
            None => {
                qb.push("h.conv is not null");
            }
        }
        qb.push(")");
    }
    if let Some(tag) = &q.tag {
        qb.push(" and exists (select 1 from json_each(c.tags) where value = ")
            .push_bind(tag.clone())
            .push(")");
    }
    if let Some(agent) = q.agent {
        qb.push(" and ");
        push_handled_by(qb, agent);
    }
    if let Some(from) = q.from {
        qb.push(" and c.created_at >= ").push_bind(from);
    }
    if let Some(to) = q.to {
        qb.push(" and c.created_at < ").push_bind(to);
    }
}

/// Conversation `c` is (or was last) assigned to `agent`, or `agent` wrote in it.
fn push_handled_by(qb: &mut QueryBuilder<Sqlite>, agent: Uuid) {
    qb.push("(c.agent_id = ")
        .push_bind(agent)
        .push(
            " or c.id in (select conversation_id from message \
             where sender_id = ",
        )
        .push_bind(agent)
        .push(" and sender_role = 'agent'))");
}

/// Sets the snippet of each conversation's result from the text of a message of it.
fn set_snippets(results: &mut [SearchResult], bodies: Vec<(Uuid, Json<Body>)>, words: &[String]) {
    for (conv, Json(body)) in bodies {
        if let Some(r) = results.iter_mut().find(|r| r.conversation_id == conv) {
            r.snippet = snippet(&searchable_text(&body).unwrap_or_default(), words);
        }
    }
}

/// A row of the search as a result, its snippet still empty.
fn result(row: &SqliteRow) -> sqlx::Result<SearchResult> {
    let tags: Json<Vec<String>> = row.try_get("tags")?;
    Ok(SearchResult {
        conversation_id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        group: row.try_get("group_name")?,
        state: named(row, "state")?,
        agent_id: row.try_get("agent_id")?,
        customer_name: row.try_get("customer_name")?,
        tags: tags.0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        snippet: String::new(),
        seq: row.try_get("seq")?,
    })
}

#[async_trait]
impl Search for SqliteStore {
    async fn search(&self, query: &SearchQuery) -> StoreResult<SearchPage> {
        self.search_with(query, MAX_TERMS).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        prelude::*,
        sqlite::tests::open,
        tests::{conversation, text},
    };

    /// The bundled SQLite has what the index needs: FTS5 with the trigram tokenizer (3.34)
    /// and contentless-delete tables (3.43).
    #[tokio::test]
    async fn the_bundled_sqlite_has_fts5_trigrams() {
        let (_dir, store) = open().await;
        let version: String = sqlx::query_scalar("select sqlite_version()")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
        assert!(parts[0] == 3 && parts[1] >= 43, "SQLite {version}");
        let options: Vec<String> =
            sqlx::query_scalar("select compile_options from pragma_compile_options")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert!(options.iter().any(|o| o == "ENABLE_FTS5"), "{options:?}");
    }

    /// A short word past the term limit is checked by scanning, alone or beside a long one,
    /// and finds the same messages as through the index.
    #[tokio::test]
    async fn a_short_word_with_too_many_trigrams_is_scanned_with_the_same_answer() {
        let (_dir, store) = open().await;
        let (a, b, sender) = (
            conversation(&store).await,
            conversation(&store).await,
            Uuid::now_v7(),
        );
        store
            .append_messages(&[
                text(a, sender, "请问可以退货吗"),
                text(b, sender, "退款到账了"),
                text(b, sender, "我要退货"),
            ])
            .await
            .unwrap();
        for text in ["退货", "退 货", "可以 退"] {
            let mut q = SearchQuery::new(SearchScope::All);
            q.text = Some(text.into());
            let indexed = store.search_with(&q, MAX_TERMS).await.unwrap();
            let scanned = store.search_with(&q, 1).await.unwrap();
            let ids = |p: &SearchPage| {
                let mut ids: Vec<Uuid> = p.results.iter().map(|r| r.conversation_id).collect();
                ids.sort();
                ids
            };
            assert!(indexed.total > 0, "{text}: found through the index");
            assert_eq!(
                indexed.total, scanned.total,
                "{text}: same count either way"
            );
            assert_eq!(ids(&indexed), ids(&scanned), "{text}: same conversations");
        }
    }
}
