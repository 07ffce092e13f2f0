//! [`Reports`] on SQLite: the conversations opened in the range, read from the covering
//! index `conversation_report` in order (no visit to the table unless a tag is asked for),
//! then the ratings and breaches of the same period from their own time indexes, matched to
//! the conversations in memory. Looking each conversation's rating and breaches up by key
//! instead cost three index searches per row: 0.4 s of a year's 100,000 conversations,
//! where the two extra range reads take milliseconds.
//!
//! It reads through rusqlite on a connection of its own for the call, in one read
//! transaction: sqlx hands every row from its connection thread over a channel, which was
//! most of the time for 100,000 rows (`examples/report_bench.rs`).

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use rusqlite::{Connection, params};
use uuid::Uuid;

use super::{SqliteStore, error::Db};
use crate::store::{ConversationFacts, ReportFilter, Reports, StoreError, StoreResult};

/// The facts of one conversation and its id; `?1`–`?2` the range, `?3`… the optional
/// filters (null: not filtered).
const FACTS: &str = "\
    select id, group_name, agent_id, created_at, first_response_at, closed_at, transfers \
    from conversation indexed by conversation_report \
    where created_at >= ?1 and created_at < ?2 \
        and (?3 is null or site_id = ?3) \
        and (?4 is null or group_name = ?4) \
        and (?5 is null or agent_id = ?5) \
        and (?6 is null or exists (select 1 from json_each(conversation.tags) where value = ?6)) \
        and (?7 is null or channel = ?7)";

/// Ratings and breaches given since `?1`: those of conversations opened in the range come
/// after their opening.
const RATINGS: &str = "select conversation_id, score from rating where created_at >= ?1";
const BREACHES: &str = "select conversation_id, target from sla_breach where at >= ?1";

/// How much earlier than the range's start a rating or breach is still read: they follow
/// their conversation's opening, but times come from the clocks of several nodes.
const CLOCK_MARGIN_MS: i64 = 24 * 3_600_000;

#[async_trait]
impl Reports for SqliteStore {
    async fn report_facts(&self, f: &ReportFilter) -> StoreResult<Vec<ConversationFacts>> {
        let file: String =
            sqlx::query_scalar("select file from pragma_database_list where name = 'main'")
                .fetch_one(&self.pool)
                .await
                .db()?;
        let f = f.clone();
        tokio::task::spawn_blocking(move || read(&file, &f).db())
            .await
            .map_err(|e| StoreError::Internal(e.into()))?
    }
}

fn read(file: &str, f: &ReportFilter) -> rusqlite::Result<Vec<ConversationFacts>> {
    let mut conn = Connection::open(file)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    // One snapshot for the three reads.
    let tx = conn.transaction()?;
    let mut facts = Vec::new();
    let mut by_id: HashMap<Uuid, usize> = HashMap::new();
    {
        let mut select = tx.prepare(FACTS)?;
        let agent = f.agent;
        let mut rows = select.query(params![
            f.from, f.to, f.site, f.group, agent, f.tag, f.channel
        ])?;
        while let Some(row) = rows.next()? {
            by_id.insert(row.get(0)?, facts.len());
            facts.push(ConversationFacts {
                group: row.get(1)?,
                agent_id: row.get(2)?,
                created_at: row.get(3)?,
                first_response_at: row.get(4)?,
                closed_at: row.get(5)?,
                transfers: row.get(6)?,
                score: None,
                first_response_breached: false,
                resolution_breached: false,
            });
        }
    }
    let since = f.from.saturating_sub(CLOCK_MARGIN_MS);
    {
        let mut ratings = tx.prepare(RATINGS)?;
        let mut rows = ratings.query(params![since])?;
        while let Some(row) = rows.next()? {
            if let Some(&i) = by_id.get(&row.get::<_, Uuid>(0)?) {
                facts[i].score = Some(row.get(1)?);
            }
        }
        let mut breaches = tx.prepare(BREACHES)?;
        let mut rows = breaches.query(params![since])?;
        while let Some(row) = rows.next()? {
            if let Some(&i) = by_id.get(&row.get::<_, Uuid>(0)?) {
                match row.get_ref(1)?.as_str()? {
                    "first_response" => facts[i].first_response_breached = true,
                    _ => facts[i].resolution_breached = true,
                }
            }
        }
    }
    tx.commit()?;
    Ok(facts)
}
