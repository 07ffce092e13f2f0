//! [`ServiceLevels`] on SQLite. A breach is one `sla_breach` row per conversation and
//! target, inserted with `on conflict do nothing`: whoever inserts it announces it.

use async_trait::async_trait;
use sqlx::{FromRow, Row, sqlite::SqliteRow};
use uuid::Uuid;

use super::{SqliteStore, error::Db, named};
use crate::store::{OpenBreach, OpenClock, Priority, ServiceLevels, StoreResult, Target};

fn priority(row: &SqliteRow) -> sqlx::Result<Priority> {
    let level: i64 = row.try_get("priority")?;
    Priority::try_from(level).map_err(|e| sqlx::Error::ColumnDecode {
        index: "priority".into(),
        source: Box::new(e),
    })
}

impl FromRow<'_, SqliteRow> for OpenClock {
    fn from_row(row: &SqliteRow) -> sqlx::Result<Self> {
        Ok(Self {
            conversation_id: row.try_get("id")?,
            group: row.try_get("group_name")?,
            priority: priority(row)?,
            created_at: row.try_get("created_at")?,
            answered: row.try_get("answered")?,
            first_response_breached: row.try_get("first_response_breached")?,
            resolution_breached: row.try_get("resolution_breached")?,
        })
    }
}

impl FromRow<'_, SqliteRow> for OpenBreach {
    fn from_row(row: &SqliteRow) -> sqlx::Result<Self> {
        Ok(Self {
            conversation_id: row.try_get("conversation_id")?,
            group: row.try_get("group_name")?,
            agent_id: row.try_get("agent_id")?,
            priority: priority(row)?,
            target: named(row, "target")?,
            due_at: row.try_get("due_at")?,
            at: row.try_get("at")?,
        })
    }
}

#[async_trait]
impl ServiceLevels for SqliteStore {
    async fn open_clocks(&self, opened_by: i64, resolution: bool) -> StoreResult<Vec<OpenClock>> {
        sqlx::query_as(
            "select * from ( \
               select c.id, c.group_name, c.priority, c.created_at, \
                 c.first_response_at is not null as answered, \
                 exists (select 1 from sla_breach b where b.conversation_id = c.id \
                         and b.target = 'first_response') as first_response_breached, \
                 exists (select 1 from sla_breach b where b.conversation_id = c.id \
                         and b.target = 'resolution') as resolution_breached \
               from conversation c \
               where c.state in ('queued', 'assigned') and c.created_at <= ? \
             ) where not (answered or first_response_breached) or (? and not resolution_breached)",
        )
        .bind(opened_by)
        .bind(resolution)
        .fetch_all(&self.pool)
        .await
        .db()
    }

    async fn record_breach(
        &self,
        conversation_id: Uuid,
        target: Target,
        due_at: i64,
        at: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "insert into sla_breach (conversation_id, target, due_at, at) \
             select c.id, ?, ?, ? from conversation c \
             where c.id = ? and c.state <> 'closed' \
               and (? <> 'first_response' or c.first_response_at is null) \
             on conflict do nothing",
        )
        .bind(target.as_str())
        .bind(due_at)
        .bind(at)
        .bind(conversation_id)
        .bind(target.as_str())
        .execute(&self.pool)
        .await
        .db()?;
        Ok(done.rows_affected() == 1)
    }

    async fn open_breaches(&self) -> StoreResult<Vec<OpenBreach>> {
        sqlx::query_as(
            "select b.conversation_id, c.group_name, c.agent_id, c.priority, b.target, b.due_at, b.at \
             from conversation c join sla_breach b on b.conversation_id = c.id \
             where c.state in ('queued', 'assigned') \
             order by b.due_at, b.conversation_id, b.target",
        )
        .fetch_all(&self.pool)
        .await
        .db()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test]
    async fn the_service_level_suite_passes_on_sqlite() {
        let (_dir, store) = super::super::tests::open().await;
        crate::store::service_levels::tests::suite(Arc::new(store)).await;
    }
}
