//! [`Reports`] on PostgreSQL: one range scan of `conversation (created_at)` (or of the
//! table, for a range that holds most of it), joined with the ratings and breaches (each
//! at most one row per conversation and target, by their keys), which PostgreSQL hashes
//! rather than searching per row. Filters left unset are null parameters, so the statement
//! text never changes and stays prepared.

use async_trait::async_trait;
use sqlx::{FromRow, Row, postgres::PgRow};

use super::{PgStore, error::Db};
use crate::store::{ConversationFacts, ReportFilter, Reports, StoreResult};

/// The facts of one conversation; `$1`–`$2` the range, `$3`… the optional filters.
const FACTS: &str = "\
    select c.group_name, c.agent_id, c.created_at, c.first_response_at, c.closed_at, \
        c.transfers, r.score, fr.conversation_id is not null, rs.conversation_id is not null \
    from conversation c \
        left join rating r on r.conversation_id = c.id \
        left join sla_breach fr on fr.conversation_id = c.id and fr.target = 'first_response' \
        left join sla_breach rs on rs.conversation_id = c.id and rs.target = 'resolution' \
    where c.created_at >= $1 and c.created_at < $2 \
        and ($3::text is null or c.site_id = $3) \
        and ($4::text is null or c.group_name = $4) \
        and ($5::uuid is null or c.agent_id = $5) \
        and ($6::text is null or c.tags @> jsonb_build_array($6::text)) \
        and ($7::text is null or c.channel = $7)";

impl FromRow<'_, PgRow> for ConversationFacts {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            group: row.try_get(0)?,
            agent_id: row.try_get(1)?,
            created_at: row.try_get(2)?,
            first_response_at: row.try_get(3)?,
            closed_at: row.try_get(4)?,
            transfers: row.try_get(5)?,
            score: row.try_get(6)?,
            first_response_breached: row.try_get(7)?,
            resolution_breached: row.try_get(8)?,
        })
    }
}

#[async_trait]
impl Reports for PgStore {
    async fn report_facts(&self, f: &ReportFilter) -> StoreResult<Vec<ConversationFacts>> {
        sqlx::query_as(FACTS)
            .bind(f.from)
            .bind(f.to)
            .bind(&f.site)
            .bind(&f.group)
            .bind(f.agent)
            .bind(&f.tag)
            .bind(&f.channel)
            .fetch_all(&self.pool)
            .await
            .db()
    }
}
