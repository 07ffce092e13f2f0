//! [`Conversations`] on PostgreSQL. Assignment is guarded in SQL (`… where agent_id is
//! null`, rows affected), which is what keeps a conversation from two agents even when two
//! nodes' routers overlap for a moment.

use async_trait::async_trait;
use sqlx::{FromRow, Postgres, Row, Transaction, postgres::PgRow, types::Json};
use uuid::Uuid;

use super::{
    PgStore,
    error::{Db, conflict_or},
    named, one, touched,
};
use crate::store::{
    ConvState, Conversation, ConversationFilter, Conversations, OPEN_ALREADY, PageContext,
    Priority, Rating, StoreResult,
};

impl FromRow<'_, PgRow> for Conversation {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        let priority: i64 = row.try_get("priority")?;
        let Json(tags) = row.try_get("tags")?;
        Ok(Self {
            id: row.try_get("id")?,
            site_id: row.try_get("site_id")?,
            visitor_id: row.try_get("visitor_id")?,
            group: row.try_get("group_name")?,
            state: named(row, "state")?,
            agent_id: row.try_get("agent_id")?,
            last_seq: row.try_get("last_seq")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            closed_at: row.try_get("closed_at")?,
            close_reason: row.try_get("close_reason")?,
            context: PageContext {
                url: row.try_get("page_url")?,
                title: row.try_get("page_title")?,
                product_id: row.try_get("page_product_id")?,
                order_id: row.try_get("page_order_id")?,
            },
            tags,
            priority: Priority::try_from(priority).map_err(|e| sqlx::Error::ColumnDecode {
                index: "priority".into(),
                source: Box::new(e),
            })?,
            channel: row.try_get("channel")?,
        })
    }
}

impl FromRow<'_, PgRow> for Rating {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            score: row.try_get("score")?,
            comment: row.try_get("comment")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// `queued_at` of a new conversation: when it was opened, if it opens waiting.
fn queued_since(c: &Conversation) -> Option<i64> {
    (c.state == ConvState::Queued).then_some(c.created_at)
}

/// Records the visitor's agent for sticky routing, in the transaction that assigned it.
async fn remember_agent(
    tx: &mut Transaction<'_, Postgres>,
    conv: Uuid,
    agent: Uuid,
) -> StoreResult<()> {
    sqlx::query(
        "update visitor set last_agent_id = $1 \
         where id = (select visitor_id from conversation where id = $2)",
    )
    .bind(agent)
    .bind(conv)
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(())
}

impl PgStore {
    /// Runs a guarded assignment `update` (binds: agent, at, conversation, then `extra`) and,
    /// if it changed the row, remembers the agent in the same transaction.
    async fn assign_guarded(
        &self,
        sql: &'static str,
        (agent_id, at, id): (Uuid, i64, Uuid),
        extra: Option<Uuid>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.db()?;
        let mut query = sqlx::query(sql).bind(agent_id).bind(at).bind(id);
        if let Some(extra) = extra {
            query = query.bind(extra);
        }
        let assigned = query.execute(&mut *tx).await.db()?.rows_affected() == 1;
        if assigned {
            remember_agent(&mut tx, id, agent_id).await?;
        }
        tx.commit().await.db()?;
        Ok(assigned)
    }
}

#[async_trait]
impl Conversations for PgStore {
    async fn create_conversation(&self, c: &Conversation) -> StoreResult<()> {
        sqlx::query(
            "insert into conversation (id, site_id, visitor_id, group_name, state, agent_id, last_seq, \
             created_at, updated_at, page_url, page_title, page_product_id, page_order_id, tags, priority, \
             channel, queued_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(c.id)
        .bind(&c.site_id)
        .bind(c.visitor_id)
        .bind(&c.group)
        .bind(c.state.as_str())
        .bind(c.agent_id)
        .bind(c.last_seq)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(&c.context.url)
        .bind(&c.context.title)
        .bind(&c.context.product_id)
        .bind(&c.context.order_id)
        .bind(Json(&c.tags))
        .bind(c.priority.level())
        .bind(&c.channel)
        .bind(queued_since(c))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, OPEN_ALREADY))?;
        Ok(())
    }

    async fn conversation(&self, id: Uuid) -> StoreResult<Conversation> {
        one(sqlx::query_as("select * from conversation where id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()?)
    }

    async fn latest_conversation_of_visitor(&self, visitor_id: Uuid) -> StoreResult<Conversation> {
        one(sqlx::query_as(
            "select * from conversation where visitor_id = $1 \
             order by created_at desc, id desc limit 1",
        )
        .bind(visitor_id)
        .fetch_optional(&self.pool)
        .await
        .db()?)
    }

    async fn conversations_of_visitor(
        &self,
        visitor_id: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<Conversation>> {
        sqlx::query_as(
            "select * from conversation where visitor_id = $1 order by created_at desc limit $2",
        )
        .bind(visitor_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .db()
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> StoreResult<Vec<Conversation>> {
        let states: Vec<&str> = f.states.iter().map(|s| s.as_str()).collect();
        // Absent filters are null parameters, so the statement text is always the same.
        sqlx::query_as(
            "select * from conversation where state = any($1) \
             and ($2::text[] is null or group_name = any($2)) \
             and ($3::uuid is null or agent_id = $3) \
             and ($4::bigint is null or updated_at < $4) \
             order by updated_at desc limit $5",
        )
        .bind(states)
        .bind(&f.groups)
        .bind(f.agent_id)
        .bind(f.updated_before)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .db()
    }

    async fn open_conversations(&self) -> StoreResult<Vec<Conversation>> {
        sqlx::query_as("select * from conversation where state != 'closed' order by created_at")
            .fetch_all(&self.pool)
            .await
            .db()
    }

    async fn idle_conversations(&self, before: i64) -> StoreResult<Vec<Conversation>> {
        sqlx::query_as("select * from conversation where state = 'assigned' and updated_at < $1")
            .bind(before)
            .fetch_all(&self.pool)
            .await
            .db()
    }

    async fn assign_if_unassigned(&self, id: Uuid, agent_id: Uuid, at: i64) -> StoreResult<bool> {
        self.assign_guarded(
            "update conversation set agent_id = $1, state = 'assigned', updated_at = $2, \
             assigned_at = $2 where id = $3 and agent_id is null and state = 'queued'",
            (agent_id, at, id),
            None,
        )
        .await
    }

    async fn reassign(&self, id: Uuid, from: Uuid, to: Uuid, at: i64) -> StoreResult<bool> {
        self.assign_guarded(
            "update conversation set agent_id = $1, updated_at = $2, assigned_at = $2, \
             transfers = transfers + 1 where id = $3 and agent_id = $4 and state = 'assigned'",
            (to, at, id),
            Some(from),
        )
        .await
    }

    async fn requeue(&self, id: Uuid, group: &str, at: i64) -> StoreResult<()> {
        // A waiting conversation moved to another queue keeps its wait; a transfer is a
        // change of group while assigned (an agent leaving keeps the group).
        sqlx::query(
            "update conversation set agent_id = null, state = 'queued', group_name = $1, \
             updated_at = $2, \
             queued_at = case when state = 'queued' then coalesce(queued_at, $2) else $2 end, \
             transfers = transfers + \
             case when agent_id is not null and group_name <> $1 then 1 else 0 end \
             where id = $3 and state != 'closed'",
        )
        .bind(group)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await
        .db()?;
        Ok(())
    }

    async fn close_conversation(&self, id: Uuid, reason: &str, at: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "update conversation set state = 'closed', closed_at = $1, close_reason = $2, \
             updated_at = $1 where id = $3 and state != 'closed'",
        )
        .bind(at)
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await
        .db()?;
        Ok(done.rows_affected() == 1)
    }

    async fn reopen_conversation(&self, id: Uuid, group: &str, at: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "update conversation set state = 'queued', agent_id = null, group_name = $1, \
             closed_at = null, close_reason = null, updated_at = $2, queued_at = $2 \
             where id = $3 and state = 'closed'",
        )
        .bind(group)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, OPEN_ALREADY))?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_page_context(&self, id: Uuid, c: &PageContext) -> StoreResult<()> {
        sqlx::query(
            "update conversation set page_url = $1, page_title = $2, page_product_id = $3, \
             page_order_id = $4 where id = $5",
        )
        .bind(&c.url)
        .bind(&c.title)
        .bind(&c.product_id)
        .bind(&c.order_id)
        .bind(id)
        .execute(&self.pool)
        .await
        .db()?;
        Ok(())
    }

    async fn insert_rating(&self, id: Uuid, r: &Rating) -> StoreResult<()> {
        sqlx::query(
            "insert into rating (conversation_id, score, comment, created_at) values ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(r.score)
        .bind(&r.comment)
        .bind(r.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, "this conversation was rated already"))?;
        Ok(())
    }

    async fn rating(&self, id: Uuid) -> StoreResult<Option<Rating>> {
        sqlx::query_as("select score, comment, created_at from rating where conversation_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()
    }

    async fn add_tags(&self, id: Uuid, tags: &[String]) -> StoreResult<Vec<String>> {
        // Each new tag once, in the order given.
        let mut new: Vec<&str> = Vec::with_capacity(tags.len());
        for t in tags {
            if !new.contains(&t.as_str()) {
                new.push(t);
            }
        }
        // One statement: the row's lock makes a concurrent `add_tags` see these tags.
        let row = sqlx::query(
            "update conversation set tags = tags || coalesce((select jsonb_agg(t order by i) \
             from unnest($2::text[]) with ordinality as new(t, i) \
             where not conversation.tags @> jsonb_build_array(t)), '[]'::jsonb) \
             where id = $1 returning tags",
        )
        .bind(id)
        .bind(new)
        .fetch_optional(&self.pool)
        .await
        .db()?;
        let Json(tags) = one(row)?.try_get("tags").db()?;
        Ok(tags)
    }

    async fn set_priority(&self, id: Uuid, priority: Priority) -> StoreResult<()> {
        touched(
            sqlx::query("update conversation set priority = $1 where id = $2")
                .bind(priority.level())
                .bind(id)
                .execute(&self.pool)
                .await
                .db()?,
        )
    }
}
