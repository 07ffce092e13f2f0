//! [`Floor`] on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use super::{PgStore, error::Db};
use crate::store::{
    Floor, FloorAccount, FloorFacts, QueueFacts, RecentConversation, StoreResult,
    floor::with_groups,
};

#[async_trait]
impl Floor for PgStore {
    async fn floor_facts(&self, since: i64) -> StoreResult<FloorFacts> {
        let agents = sqlx::query("select id, display_name, capacity from agent where not disabled")
            .fetch_all(&self.pool)
            .await
            .db()?
            .into_iter()
            .map(|r| {
                Ok(FloorAccount {
                    id: r.try_get("id")?,
                    display_name: r.try_get("display_name")?,
                    capacity: r.try_get("capacity")?,
                    groups: Vec::new(),
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()
            .db()?;
        let members: Vec<(Uuid, String)> =
            sqlx::query_as("select agent_id, group_name from agent_group_member")
                .fetch_all(&self.pool)
                .await
                .db()?;
        let groups = sqlx::query_scalar("select name from agent_group order by name")
            .fetch_all(&self.pool)
            .await
            .db()?;
        // Waiting conversations only: a range of the `conversation_state` index.
        let queues = sqlx::query(
            "select group_name, count(*) as waiting, \
             min(coalesce(queued_at, created_at))::bigint as oldest_since \
             from conversation where state = 'queued' group by group_name",
        )
        .fetch_all(&self.pool)
        .await
        .db()?
        .into_iter()
        .map(|r| {
            Ok(QueueFacts {
                group: r.try_get("group_name")?,
                waiting: r.try_get("waiting")?,
                oldest_since: r.try_get("oldest_since")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()
        .db()?;
        // Two ranges of `conversation_state (state, updated_at)`.
        let recent = sqlx::query(
            "select group_name, agent_id, last_agent_reply_at, queued_at, assigned_at, transfers \
             from conversation where state in ('assigned', 'closed') and updated_at >= $1 \
             and agent_id is not null",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .db()?
        .into_iter()
        .map(|r| {
            Ok(RecentConversation {
                group: r.try_get("group_name")?,
                agent_id: r.try_get("agent_id")?,
                last_agent_reply_at: r.try_get("last_agent_reply_at")?,
                queued_at: r.try_get("queued_at")?,
                assigned_at: r.try_get("assigned_at")?,
                transfers: r.try_get("transfers")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()
        .db()?;
        Ok(FloorFacts {
            agents: with_groups(agents, members),
            groups,
            queues,
            recent,
        })
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_floor_reads_pass_on_postgres() {
        let Some((_db, store)) = super::super::tests::open().await else {
            return;
        };
        crate::store::floor::tests::suite(&store).await;
        crate::store::Store::close(&store).await;
    }
}
