//! [`Search`] on PostgreSQL, over the `pg_trgm` GIN index on `search_text(body)`
//! (`migrations/postgres/0004_search.sql`).
//!
//! Each word of the text is one `search_text(m.body) ilike '%word%'`, all of them on the
//! same message; the index answers those of three characters or more, and rechecks the
//! rows. A word shorter than a trigram (`退货`) gives the index nothing to look up: beside a
//! longer word it is checked on the rows that one found, alone it is a scan of the messages
//! (fine for thousands of conversations, slow for millions; `docs/search.md`). Ranked by
//! `similarity` of the message's text to the query.

use async_trait::async_trait;
use sqlx::{Postgres, QueryBuilder, Row, postgres::PgRow, types::Json};
use uuid::Uuid;

use super::{PgStore, error::Db, named};
use crate::store::{
    Body, Search, SearchPage, SearchQuery, SearchResult, SearchScope, StoreResult,
    search::{like_pattern, searchable_text, snippet},
};

impl PgStore {
    /// Each result's snippet: from its matching message around `words`, or, where none
    /// matched, the start of its first message. Read for the page only: the ranking carries
    /// no message bodies.
    async fn snippets(
        &self,
        results: &mut [SearchResult],
        words: &[String],
        include_private: bool,
    ) -> StoreResult<()> {
        let (convs, seqs): (Vec<Uuid>, Vec<i64>) = results
            .iter()
            .filter_map(|r| Some((r.conversation_id, r.seq?)))
            .unzip();
        if !convs.is_empty() {
            let bodies: Vec<(Uuid, Json<Body>)> = sqlx::query_as(
                "select conversation_id, body from message \
                 where (conversation_id, seq) in (select * from unnest($1::uuid[], $2::bigint[]))",
            )
            .bind(&convs)
            .bind(&seqs)
            .fetch_all(&self.pool)
            .await
            .db()?;
            set_snippets(results, bodies, words);
        }
        let unmatched: Vec<Uuid> = results
            .iter()
            .filter(|r| r.seq.is_none())
            .map(|r| r.conversation_id)
            .collect();
        if unmatched.is_empty() {
            return Ok(());
        }
        let firsts: Vec<(Uuid, Json<Body>)> = sqlx::query_as(
            "select distinct on (conversation_id) conversation_id, body from message \
             where conversation_id = any($1) and search_text(body) is not null \
             and ($2 or not private) order by conversation_id, seq",
        )
        .bind(&unmatched)
        .bind(include_private)
        .fetch_all(&self.pool)
        .await
        .db()?;
        set_snippets(results, firsts, &[]);
        Ok(())
    }
}

/// Sets the snippet of each conversation's result from the text of a message of it.
fn set_snippets(results: &mut [SearchResult], bodies: Vec<(Uuid, Json<Body>)>, words: &[String]) {
    for (conv, Json(body)) in bodies {
        if let Some(r) = results.iter_mut().find(|r| r.conversation_id == conv) {
            r.snippet = snippet(&searchable_text(&body).unwrap_or_default(), words);
        }
    }
}

/// The `hits` table: per conversation, its best message holding every word (`conv`,
/// `relevance`: higher is better, `seq`); of equals, the first.
fn push_hits(qb: &mut QueryBuilder<Postgres>, words: &[String], include_private: bool) {
    qb.push("select distinct on (m.conversation_id) m.conversation_id as conv, similarity(search_text(m.body), ")
        .push_bind(words.join(" "))
        .push(") as relevance, m.seq as seq from message m where true");
    for word in words {
        qb.push(" and search_text(m.body) ilike ")
            .push_bind(like_pattern(word))
            .push(" escape '\\'");
    }
    if !include_private {
        qb.push(" and not m.private");
    }
    qb.push(" order by m.conversation_id, relevance desc, m.seq");
}

/// The conditions on conversation `c` and its visitor `v` (and `h`, when the order picks the
/// hits).
fn push_filters(qb: &mut QueryBuilder<Postgres>, q: &SearchQuery, order_in_hits: bool) {
    if let SearchScope::Agent { agent_id, groups } = &q.scope {
        qb.push(" and (c.group_name = any(")
            .push_bind(groups.clone())
            .push(") or ");
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
                .push(" ilike ")
                .push_bind(pattern.clone())
                .push(" escape '\\'");
        }
        qb.push(")");
    }
    if let Some(order) = &q.order {
        qb.push(" and (c.page_order_id ilike ")
            .push_bind(like_pattern(order))
            .push(" escape '\\' or ");
        if order_in_hits {
            qb.push("h.conv is not null");
        } else {
            qb.push("c.id in (select conv from (");
            push_hits(qb, std::slice::from_ref(order), q.include_private);
            qb.push(") o)");
        }
        qb.push(")");
    }
    if let Some(tag) = &q.tag {
        qb.push(" and c.tags @> jsonb_build_array(")
            .push_bind(tag.clone())
            .push("::text)");
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
fn push_handled_by(qb: &mut QueryBuilder<Postgres>, agent: Uuid) {
    qb.push("(c.agent_id = ")
        .push_bind(agent)
        .push(" or c.id in (select conversation_id from message where sender_id = ")
        .push_bind(agent)
        .push(" and sender_role = 'agent'))");
}

/// A row of the search as a result, its snippet still empty.
fn result(row: &PgRow) -> sqlx::Result<SearchResult> {
    let Json(tags) = row.try_get("tags")?;
    Ok(SearchResult {
        conversation_id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        group: row.try_get("group_name")?,
        state: named(row, "state")?,
        agent_id: row.try_get("agent_id")?,
        customer_name: row.try_get("customer_name")?,
        tags,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        snippet: String::new(),
        seq: row.try_get("seq")?,
    })
}

#[async_trait]
impl Search for PgStore {
    async fn search(&self, q: &SearchQuery) -> StoreResult<SearchPage> {
        let words = q.words();
        // The words that pick the message a result shows: the text's, else the order's.
        let (hit_words, hits_required) = match (&q.order, words.is_empty()) {
            (Some(order), true) => (vec![order.clone()], false),
            _ => (words, true),
        };
        let has_hits = !hit_words.is_empty();
        let page = |offset: i64, limit: i64| {
            let mut qb = QueryBuilder::<Postgres>::new("");
            if has_hits {
                qb.push("with hits as (");
                push_hits(&mut qb, &hit_words, q.include_private);
                qb.push(") ");
            }
            qb.push(
                "select c.id, c.site_id, c.group_name, c.state, c.agent_id, c.tags, \
                 c.created_at, c.updated_at, v.display_name as customer_name, ",
            );
            qb.push(if has_hits {
                "h.seq as seq, "
            } else {
                "null::bigint as seq, "
            });
            qb.push("count(*) over () as total from conversation c join visitor v on v.id = c.visitor_id ");
            if has_hits {
                qb.push(if hits_required { "join" } else { "left join" })
                    .push(" hits h on h.conv = c.id ");
            }
            qb.push("where true");
            push_filters(&mut qb, q, has_hits && !hits_required);
            qb.push(if has_hits {
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
}
