//! [`Conversations`] on SQLite. Every write to a conversation row tells the in-memory copy
//! (`cache.rs`) afterwards, whether or not the write succeeded: a failed one may still
//! have changed the row.

use async_trait::async_trait;
use sqlx::{FromRow, Row, Sqlite, Transaction, sqlite::SqliteRow};
use uuid::Uuid;

use super::{
    SqliteStore,
    error::{Db, conflict_or},
    json, named, one, touched,
};
use crate::store::{
    ConvState, Conversation, ConversationFilter, Conversations, OPEN_ALREADY, PageContext,
    Priority, Rating, StoreResult,
};

impl FromRow<'_, SqliteRow> for Conversation {
    fn from_row(row: &SqliteRow) -> sqlx::Result<Self> {
        let priority: i64 = row.try_get("priority")?;
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
            tags: json(row, "tags")?,
            priority: Priority::try_from(priority).map_err(|e| sqlx::Error::ColumnDecode {
                index: "priority".into(),
                source: Box::new(e),
            })?,
            channel: row.try_get("channel")?,
        })
    }
}

impl FromRow<'_, SqliteRow> for Rating {
    fn from_row(row: &SqliteRow) -> sqlx::Result<Self> {
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
    tx: &mut Transaction<'_, Sqlite>,
    conv: Uuid,
    agent: Uuid,
) -> StoreResult<()> {
    sqlx::query("update visitor set last_agent_id = ? where id = (select visitor_id from conversation where id = ?)")
        .bind(agent)
        .bind(conv)
        .execute(&mut **tx)
        .await
        .db()?;
    Ok(())
}

impl SqliteStore {
    async fn assign_tx(&self, id: Uuid, agent_id: Uuid, at: i64) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update conversation set agent_id = ?, state = 'assigned', updated_at = ?, assigned_at = ? \
             where id = ? and agent_id is null and state = 'queued'",
        )
        .bind(agent_id)
        .bind(at)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .db()?;
        if done.rows_affected() == 1 {
            remember_agent(&mut tx, id, agent_id).await?;
        }
        tx.commit().await.db()?;
        Ok(done.rows_affected() == 1)
    }

    async fn reassign_tx(&self, id: Uuid, from: Uuid, to: Uuid, at: i64) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update conversation set agent_id = ?, updated_at = ?, assigned_at = ?, transfers = transfers + 1 \
             where id = ? and agent_id = ? and state = 'assigned'",
        )
        .bind(to)
        .bind(at)
        .bind(at)
        .bind(id)
        .bind(from)
        .execute(&mut *tx)
        .await
        .db()?;
        if done.rows_affected() == 1 {
            remember_agent(&mut tx, id, to).await?;
        }
        tx.commit().await.db()?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_tags_uncached(&self, id: Uuid, tags: &[String]) -> StoreResult<Vec<String>> {
        // One statement per tag, no read-then-write transaction: SQLite would refuse to
        // upgrade a reader while the message writer holds the lock (SQLITE_BUSY at once).
        for tag in tags {
            sqlx::query(
                "update conversation set tags = json_insert(tags, '$[#]', ?) where id = ? \
                 and not exists (select 1 from json_each(conversation.tags) where value = ?)",
            )
            .bind(tag)
            .bind(id)
            .bind(tag)
            .execute(&self.pool)
            .await
            .db()?;
        }
        let row = sqlx::query("select tags from conversation where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()?;
        json(&one(row)?, "tags").db()
    }
}

#[async_trait]
impl Conversations for SqliteStore {
    async fn create_conversation(&self, c: &Conversation) -> StoreResult<()> {
        let done = sqlx::query(
            "insert into conversation (id, site_id, visitor_id, group_name, state, agent_id, last_seq, created_at, updated_at, \
             page_url, page_title, page_product_id, page_order_id, tags, priority, channel, queued_at) \
             values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .bind(serde_json::to_string(&c.tags).unwrap_or_else(|_| "[]".into()))
        .bind(c.priority.level())
        .bind(&c.channel)
        .bind(queued_since(c))
        .execute(&self.pool)
        .await;
        self.conversations.forget(c.id);
        done.map_err(|e| conflict_or(e, OPEN_ALREADY))?;
        Ok(())
    }

    async fn set_page_context(&self, id: Uuid, c: &PageContext) -> StoreResult<()> {
        let done = sqlx::query(
            "update conversation set page_url = ?, page_title = ?, page_product_id = ?, \
             page_order_id = ? where id = ?",
        )
        .bind(&c.url)
        .bind(&c.title)
        .bind(&c.product_id)
        .bind(&c.order_id)
        .bind(id)
        .execute(&self.pool)
        .await;
        self.conversations.forget(id);
        done.db()?;
        Ok(())
    }

    async fn insert_rating(&self, id: Uuid, r: &Rating) -> StoreResult<()> {
        sqlx::query(
            "insert into rating (conversation_id, score, comment, created_at) values (?, ?, ?, ?)",
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
        sqlx::query_as("select score, comment, created_at from rating where conversation_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()
    }

    async fn conversation(&self, id: Uuid) -> StoreResult<Conversation> {
        if let Some(c) = self.conversations.get(id) {
            return Ok(c);
        }
        let epoch = self.conversations.epoch();
        let c: Conversation = one(sqlx::query_as("select * from conversation where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()?)?;
        self.conversations.fill(&c, epoch);
        Ok(c)
    }

    async fn latest_conversation_of_visitor(&self, visitor_id: Uuid) -> StoreResult<Conversation> {
        one(sqlx::query_as(
            "select * from conversation where visitor_id = ? order by created_at desc, id desc limit 1",
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
            "select * from conversation where visitor_id = ? order by created_at desc limit ?",
        )
        .bind(visitor_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .db()
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> StoreResult<Vec<Conversation>> {
        let mut qb =
            sqlx::QueryBuilder::<Sqlite>::new("select * from conversation where state in (");
        let mut states = qb.separated(", ");
        for s in &f.states {
            states.push_bind(s.as_str());
        }
        qb.push(")");
        if let Some(groups) = &f.groups {
            qb.push(" and group_name in (");
            let mut sep = qb.separated(", ");
            sep.push_bind(""); // never matches: keeps `in ()` valid when the list is empty
            for g in groups {
                sep.push_bind(g.clone());
            }
            qb.push(")");
        }
        if let Some(agent) = f.agent_id {
            qb.push(" and agent_id = ").push_bind(agent);
        }
        if let Some(before) = f.updated_before {
            qb.push(" and updated_at < ").push_bind(before);
        }
        qb.push(" order by updated_at desc limit ")
            .push_bind(f.limit);
        qb.build_query_as().fetch_all(&self.pool).await.db()
    }

    async fn open_conversations(&self) -> StoreResult<Vec<Conversation>> {
        sqlx::query_as("select * from conversation where state != 'closed' order by created_at")
            .fetch_all(&self.pool)
            .await
            .db()
    }

    async fn idle_conversations(&self, before: i64) -> StoreResult<Vec<Conversation>> {
        sqlx::query_as("select * from conversation where state = 'assigned' and updated_at < ?")
            .bind(before)
            .fetch_all(&self.pool)
            .await
            .db()
    }

    async fn assign_if_unassigned(&self, id: Uuid, agent_id: Uuid, at: i64) -> StoreResult<bool> {
        let done = self.assign_tx(id, agent_id, at).await;
        self.conversations.forget(id);
        done
    }

    async fn reassign(&self, id: Uuid, from: Uuid, to: Uuid, at: i64) -> StoreResult<bool> {
        let done = self.reassign_tx(id, from, to, at).await;
        self.conversations.forget(id);
        done
    }

    async fn requeue(&self, id: Uuid, group: &str, at: i64) -> StoreResult<()> {
        // A waiting conversation moved to another queue keeps its wait; a transfer is a
        // change of group while assigned (an agent leaving keeps the group).
        let done = sqlx::query(
            "update conversation set agent_id = null, state = 'queued', group_name = ?, updated_at = ?, \
             queued_at = case when state = 'queued' then coalesce(queued_at, ?) else ? end, \
             transfers = transfers + (agent_id is not null and group_name <> ?) \
             where id = ? and state != 'closed'",
        )
        .bind(group)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(group)
        .bind(id)
        .execute(&self.pool)
        .await;
        self.conversations.forget(id);
        done.db()?;
        Ok(())
    }

    async fn close_conversation(&self, id: Uuid, reason: &str, at: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "update conversation set state = 'closed', closed_at = ?, close_reason = ?, updated_at = ? \
             where id = ? and state != 'closed'",
        )
        .bind(at)
        .bind(reason)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await;
        self.conversations.forget(id);
        Ok(done.db()?.rows_affected() == 1)
    }

    async fn reopen_conversation(&self, id: Uuid, group: &str, at: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "update conversation set state = 'queued', agent_id = null, group_name = ?, closed_at = null, \
             close_reason = null, updated_at = ?, queued_at = ? where id = ? and state = 'closed'",
        )
        .bind(group)
        .bind(at)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await;
        self.conversations.forget(id);
        let done = done.map_err(|e| conflict_or(e, OPEN_ALREADY))?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_tags(&self, id: Uuid, tags: &[String]) -> StoreResult<Vec<String>> {
        let done = self.add_tags_uncached(id, tags).await;
        self.conversations.forget(id);
        done
    }

    async fn set_priority(&self, id: Uuid, priority: Priority) -> StoreResult<()> {
        let done = sqlx::query("update conversation set priority = ? where id = ?")
            .bind(priority.level())
            .bind(id)
            .execute(&self.pool)
            .await;
        self.conversations.forget(id);
        touched(done.db()?)
    }
}
