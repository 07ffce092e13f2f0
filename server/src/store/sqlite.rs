//! The embedded SQLite store: one file, WAL journal, `synchronous = full` so a commit that
//! was acknowledged survives a crash or power loss. Message writes arrive batched from
//! `sessions::writer`, so one fsync covers many messages.

use std::{path::Path, str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::{
    AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use uuid::Uuid;

use super::*;

mod append;
mod cache;

use append::MessageWriter;
use cache::ConversationCache;

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    pool: SqlitePool,
    /// The message writer's own connection. Through the pool, each batch landed on
    /// whichever connection was free, and a connection that another one wrote behind
    /// starts from an empty page cache: every batch re-read its index pages.
    messages: std::sync::Mutex<Option<MessageWriter>>,
    conversations: ConversationCache,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or a plain path)
    /// and runs the embedded migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Statement journals (every multi-row write in a transaction keeps one) in
            // memory: as temp files they were a tenth of the message writer's time.
            .pragma("temp_store", "memory")
            // Every batch dirties a page or two per conversation it writes to (their index
            // leaves). At the default 1,000-page checkpoint threshold a busy batch crossed it
            // on every commit, copying the same hot pages back to the database each time;
            // 10,000 pages (40 MiB of WAL) copies them once per several commits.
            .pragma("wal_autocheckpoint", "10000")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // The writer opens the same file on a connection of its own (`append.rs`).
        let file: String =
            sqlx::query_scalar("select file from pragma_database_list where name = 'main'")
                .fetch_one(&pool)
                .await?;
        if file.is_empty() {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                "the SQLite store needs a database file, not an in-memory database".into(),
            )));
        }
        let messages = MessageWriter::open(&file)?;
        Ok(Self {
            pool,
            messages: std::sync::Mutex::new(Some(messages)),
            conversations: ConversationCache::default(),
        })
    }

    /// Opens a database file inside `dir`.
    pub async fn open_in(dir: &Path) -> StoreResult<Self> {
        Self::open(&format!("sqlite://{}", dir.join("kefu.db").display())).await
    }
}

fn conflict_or(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.into()),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::Conflict(format!("{what}: references something that does not exist"))
        }
        _ => StoreError::Database(e),
    }
}

/// `NotFound` when a write changed no row.
fn touched(done: sqlx::sqlite::SqliteQueryResult) -> StoreResult<()> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

fn one<T>(row: Option<T>) -> StoreResult<T> {
    row.ok_or(StoreError::NotFound)
}

fn message_from_row(row: &SqliteRow) -> StoreResult<StoredMessage> {
    let body: String = row.try_get("body")?;
    let body = serde_json::from_str(&body)
        .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?;
    Ok(StoredMessage {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        seq: row.try_get("seq")?,
        client_msg_id: row.try_get("client_msg_id")?,
        sender_role: row.try_get("sender_role")?,
        sender_id: row.try_get("sender_id")?,
        sender_name: row.try_get("sender_name")?,
        body,
        created_at: row.try_get("created_at")?,
    })
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, client_msg_id, sender_role, sender_id, sender_name, body, created_at";

async fn set_groups(
    tx: &mut Transaction<'_, Sqlite>,
    agent: Uuid,
    groups: &[String],
) -> StoreResult<()> {
    sqlx::query("delete from agent_group_member where agent_id = ?")
        .bind(agent)
        .execute(&mut **tx)
        .await?;
    for g in groups {
        sqlx::query("insert into agent_group_member (agent_id, group_name) values (?, ?)")
            .bind(agent)
            .bind(g)
            .execute(&mut **tx)
            .await
            .map_err(|e| conflict_or(e, &format!("group `{g}` does not exist")))?;
    }
    Ok(())
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
        .await?;
    Ok(())
}

impl SqliteStore {
    /// A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`). A
    /// deferred one that reads first and writes later fails with SQLITE_BUSY at once when
    /// another connection committed in between; an immediate one waits its turn instead.
    async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("begin immediate").await?)
    }

    async fn assign_tx(&self, id: Uuid, agent_id: Uuid, at: i64) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update conversation set agent_id = ?, state = 'assigned', updated_at = ? \
             where id = ? and agent_id is null and state = 'queued'",
        )
        .bind(agent_id)
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            remember_agent(&mut tx, id, agent_id).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reassign_tx(&self, id: Uuid, from: Uuid, to: Uuid, at: i64) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update conversation set agent_id = ?, updated_at = ? where id = ? and agent_id = ? and state = 'assigned'",
        )
        .bind(to)
        .bind(at)
        .bind(id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            remember_agent(&mut tx, id, to).await?;
        }
        tx.commit().await?;
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
            .await?;
        }
        let all: String = one(
            sqlx::query_scalar("select tags from conversation where id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )?;
        serde_json::from_str(&all)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
    }

    fn append_tx(&self, batch: &[NewMessage]) -> StoreResult<append::Appended> {
        // Nothing panics while it is held; a poisoned lock still guards a usable connection.
        let mut writer = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        writer
            .as_mut()
            .ok_or(StoreError::Database(sqlx::Error::PoolClosed))?
            .append(batch)
    }

    async fn with_groups(&self, mut agent: Agent) -> StoreResult<Agent> {
        agent.groups = sqlx::query_scalar(
            "select group_name from agent_group_member where agent_id = ? order by group_name",
        )
        .bind(agent.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(agent)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_agent(&self, a: &NewAgent) -> StoreResult<Agent> {
        let id = Uuid::now_v7();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "insert into agent (id, username, display_name, password_hash, role, capacity, created_at) \
             values (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&a.username)
        .bind(&a.display_name)
        .bind(&a.password_hash)
        .bind(a.role)
        .bind(a.capacity)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, &format!("username `{}` is taken", a.username)))?;
        set_groups(&mut tx, id, &a.groups).await?;
        tx.commit().await?;
        self.agent(id).await
    }

    async fn agent(&self, id: Uuid) -> StoreResult<Agent> {
        let agent = sqlx::query_as::<_, Agent>("select * from agent where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        self.with_groups(one(agent)?).await
    }

    async fn agent_by_username(&self, username: &str) -> StoreResult<Agent> {
        let agent = sqlx::query_as::<_, Agent>("select * from agent where username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        self.with_groups(one(agent)?).await
    }

    async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        let agents = sqlx::query_as::<_, Agent>("select * from agent order by username")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(agents.len());
        for a in agents {
            out.push(self.with_groups(a).await?);
        }
        Ok(out)
    }

    async fn update_agent(&self, id: Uuid, p: &AgentPatch) -> StoreResult<Agent> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "update agent set display_name = coalesce(?, display_name), \
             password_hash = coalesce(?, password_hash), role = coalesce(?, role), \
             capacity = coalesce(?, capacity), disabled = coalesce(?, disabled) where id = ?",
        )
        .bind(&p.display_name)
        .bind(&p.password_hash)
        .bind(p.role)
        .bind(p.capacity)
        .bind(p.disabled)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(groups) = &p.groups {
            set_groups(&mut tx, id, groups).await?;
        }
        if p.disabled == Some(true) || p.password_hash.is_some() {
            sqlx::query(
                "update auth_token set revoked_at = ? where agent_id = ? and revoked_at is null",
            )
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.agent(id).await
    }

    async fn delete_agent(&self, id: Uuid) -> StoreResult<()> {
        // Conversations keep their history: an agent with conversations is disabled instead.
        let has_history: i64 =
            sqlx::query_scalar("select count(*) from conversation where agent_id = ?")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        if has_history > 0 {
            self.update_agent(
                id,
                &AgentPatch {
                    disabled: Some(true),
                    ..Default::default()
                },
            )
            .await?;
            return Ok(());
        }
        touched(
            sqlx::query("delete from agent where id = ?")
                .bind(id)
                .execute(&self.pool)
                .await?,
        )
    }

    async fn count_agents(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("select count(*) from agent")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_group(&self, g: &Group) -> StoreResult<Group> {
        sqlx::query("insert into agent_group (name, display_name, created_at) values (?, ?, ?)")
            .bind(&g.name)
            .bind(&g.display_name)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, &format!("group `{}` exists", g.name)))?;
        Ok(Group {
            name: g.name.clone(),
            display_name: g.display_name.clone(),
            members: vec![],
        })
    }

    async fn list_groups(&self) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query("select name, display_name from agent_group order by name")
            .fetch_all(&self.pool)
            .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for r in rows {
            let name: String = r.try_get("name")?;
            let members =
                sqlx::query_scalar("select agent_id from agent_group_member where group_name = ?")
                    .bind(&name)
                    .fetch_all(&self.pool)
                    .await?;
            groups.push(Group {
                name,
                display_name: r.try_get("display_name")?,
                members,
            });
        }
        Ok(groups)
    }

    async fn delete_group(&self, name: &str) -> StoreResult<()> {
        touched(
            sqlx::query("delete from agent_group where name = ?")
                .bind(name)
                .execute(&self.pool)
                .await?,
        )
    }

    async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
        sqlx::query(
            "insert into auth_token (token_hash, agent_id, created_at, expires_at) values (?, ?, ?, ?)",
        )
        .bind(&t.token_hash)
        .bind(t.agent_id)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn token(&self, token_hash: &str) -> StoreResult<TokenRecord> {
        one(
            sqlx::query_as("select * from auth_token where token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn revoke_token(&self, token_hash: &str, at: i64) -> StoreResult<()> {
        sqlx::query(
            "update auth_token set revoked_at = ? where token_hash = ? and revoked_at is null",
        )
        .bind(at)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_visitor(&self, v: &Visitor) -> StoreResult<()> {
        sqlx::query(
            "insert into visitor (id, site_id, token_hash, customer_id, display_name, email, phone, created_at, expires_at) \
             values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(v.id)
        .bind(&v.site_id)
        .bind(&v.token_hash)
        .bind(&v.customer_id)
        .bind(&v.display_name)
        .bind(&v.email)
        .bind(&v.phone)
        .bind(v.created_at)
        .bind(v.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, "visitor exists"))?;
        Ok(())
    }

    async fn visitor_by_token(&self, token_hash: &str) -> StoreResult<Visitor> {
        one(sqlx::query_as("select * from visitor where token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn visitor(&self, id: Uuid) -> StoreResult<Visitor> {
        one(sqlx::query_as("select * from visitor where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn visitor_by_customer(&self, site_id: &str, customer_id: &str) -> StoreResult<Visitor> {
        one(
            sqlx::query_as("select * from visitor where site_id = ? and customer_id = ?")
                .bind(site_id)
                .bind(customer_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn refresh_visitor_token(
        &self,
        id: Uuid,
        token_hash: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query("update visitor set token_hash = ?, expires_at = ? where id = ?")
            .bind(token_hash)
            .bind(expires_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_visitor_contact(
        &self,
        id: Uuid,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("update visitor set email = coalesce(?, email), phone = coalesce(?, phone) where id = ?")
            .bind(email)
            .bind(phone)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn link_customer(&self, id: Uuid, customer_id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("update visitor set customer_id = ?, display_name = ? where id = ?")
            .bind(customer_id)
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, "customer already linked to another visitor"))?;
        Ok(())
    }

    async fn create_conversation(&self, c: &Conversation) -> StoreResult<()> {
        let done = sqlx::query(
            "insert into conversation (id, site_id, visitor_id, group_name, state, agent_id, last_seq, created_at, updated_at, \
             page_url, page_title, page_product_id, page_order_id, tags, priority) \
             values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.id)
        .bind(&c.site_id)
        .bind(c.visitor_id)
        .bind(&c.group)
        .bind(c.state)
        .bind(c.agent_id)
        .bind(c.last_seq)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(&c.context.url)
        .bind(&c.context.title)
        .bind(&c.context.product_id)
        .bind(&c.context.order_id)
        .bind(serde_json::to_string(&c.tags).unwrap_or_else(|_| "[]".into()))
        .bind(c.priority)
        .execute(&self.pool)
        .await;
        self.conversations.forget(c.id);
        done?;
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
        done?;
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
        Ok(sqlx::query_as(
            "select score, comment, created_at from rating where conversation_id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn conversation(&self, id: Uuid) -> StoreResult<Conversation> {
        if let Some(c) = self.conversations.get(id) {
            return Ok(c);
        }
        let epoch = self.conversations.epoch();
        let c: Conversation = one(sqlx::query_as("select * from conversation where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)?;
        self.conversations.fill(&c, epoch);
        Ok(c)
    }

    async fn latest_conversation_of_visitor(&self, visitor_id: Uuid) -> StoreResult<Conversation> {
        one(sqlx::query_as(
            "select * from conversation where visitor_id = ? order by created_at desc, id desc limit 1",
        )
        .bind(visitor_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn conversations_of_visitor(
        &self,
        visitor_id: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<Conversation>> {
        Ok(sqlx::query_as(
            "select * from conversation where visitor_id = ? order by created_at desc limit ?",
        )
        .bind(visitor_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn list_conversations(&self, f: &ConversationFilter) -> StoreResult<Vec<Conversation>> {
        let mut qb =
            sqlx::QueryBuilder::<Sqlite>::new("select * from conversation where state in (");
        let mut states = qb.separated(", ");
        for s in &f.states {
            states.push_bind(*s);
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
        Ok(qb.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn open_conversations(&self) -> StoreResult<Vec<Conversation>> {
        Ok(
            sqlx::query_as(
                "select * from conversation where state != 'closed' order by created_at",
            )
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn idle_conversations(&self, before: i64) -> StoreResult<Vec<Conversation>> {
        Ok(
            sqlx::query_as(
                "select * from conversation where state = 'assigned' and updated_at < ?",
            )
            .bind(before)
            .fetch_all(&self.pool)
            .await?,
        )
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
        let done = sqlx::query(
            "update conversation set agent_id = null, state = 'queued', group_name = ?, updated_at = ? \
             where id = ? and state != 'closed'",
        )
        .bind(group)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await;
        self.conversations.forget(id);
        done?;
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
        Ok(done?.rows_affected() == 1)
    }

    async fn reopen_conversation(&self, id: Uuid, group: &str, at: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "update conversation set state = 'queued', agent_id = null, group_name = ?, closed_at = null, \
             close_reason = null, updated_at = ? where id = ? and state = 'closed'",
        )
        .bind(group)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await;
        self.conversations.forget(id);
        Ok(done?.rows_affected() == 1)
    }

    async fn append_messages(&self, batch: &[NewMessage]) -> StoreResult<Vec<AppendResult>> {
        let done = self.append_tx(batch);
        match &done {
            Ok(appended) => {
                for &(id, last_seq, updated_at) in &appended.seqs {
                    self.conversations.appended(id, last_seq, updated_at);
                }
            }
            Err(_) => {
                for m in batch {
                    self.conversations.forget(m.conversation_id);
                }
            }
        }
        Ok(done?.results)
    }

    async fn messages_after(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> StoreResult<Vec<StoredMessage>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "select {MESSAGE_COLUMNS} from message where conversation_id = ? and seq > ? \
             and (? or private = 0) order by seq limit ?"
        )))
        .bind(conversation_id)
        .bind(after_seq)
        .bind(include_private)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    async fn messages_before(
        &self,
        conversation_id: Uuid,
        before_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> StoreResult<Vec<StoredMessage>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "select {MESSAGE_COLUMNS} from message where conversation_id = ? and seq < ? \
             and (? or private = 0) order by seq desc limit ?"
        )))
        .bind(conversation_id)
        .bind(before_seq)
        .bind(include_private)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut page: Vec<StoredMessage> = rows
            .iter()
            .map(message_from_row)
            .collect::<StoreResult<_>>()?;
        page.reverse();
        Ok(page)
    }

    async fn list_canned(&self) -> StoreResult<Vec<CannedReply>> {
        Ok(
            sqlx::query_as("select * from canned_reply order by shortcut")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn upsert_canned(&self, r: &CannedReply) -> StoreResult<()> {
        sqlx::query(
            "insert into canned_reply (id, shortcut, title, body, created_by, created_at, updated_at) \
             values (?, ?, ?, ?, ?, ?, ?) on conflict (id) do update set shortcut = excluded.shortcut, \
             title = excluded.title, body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(r.id)
        .bind(&r.shortcut)
        .bind(&r.title)
        .bind(&r.body)
        .bind(r.created_by)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, &format!("shortcut `{}` is taken", r.shortcut)))?;
        Ok(())
    }

    async fn canned(&self, id: Uuid) -> StoreResult<CannedReply> {
        one(sqlx::query_as("select * from canned_reply where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn delete_canned(&self, id: Uuid) -> StoreResult<()> {
        touched(
            sqlx::query("delete from canned_reply where id = ?")
                .bind(id)
                .execute(&self.pool)
                .await?,
        )
    }

    async fn insert_attachment(&self, a: &Attachment) -> StoreResult<()> {
        sqlx::query(
            "insert into attachment (id, conversation_id, uploader_id, file_name, content_type, size_bytes, sha256, created_at) \
             values (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(a.id)
        .bind(a.conversation_id)
        .bind(a.uploader_id)
        .bind(&a.file_name)
        .bind(&a.content_type)
        .bind(a.size_bytes)
        .bind(&a.sha256)
        .bind(a.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn attachment(&self, id: Uuid) -> StoreResult<Attachment> {
        one(sqlx::query_as("select * from attachment where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn insert_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "insert into audit_log (id, at, actor_id, actor_role, action, conversation_id, target, details, result, error) \
             values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.id)
        .bind(e.at)
        .bind(e.actor_id)
        .bind(e.actor_role)
        .bind(&e.action)
        .bind(e.conversation_id)
        .bind(&e.target)
        .bind(&e.details)
        .bind(&e.result)
        .bind(&e.error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        conversation_id: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        Ok(sqlx::query_as(
            "select * from audit_log where (? is null or conversation_id = ?) order by at desc, id desc limit ?",
        )
        .bind(conversation_id)
        .bind(conversation_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn add_tags(&self, id: Uuid, tags: &[String]) -> StoreResult<Vec<String>> {
        let done = self.add_tags_uncached(id, tags).await;
        self.conversations.forget(id);
        done
    }

    async fn set_priority(&self, id: Uuid, priority: Priority) -> StoreResult<()> {
        let done = sqlx::query("update conversation set priority = ? where id = ?")
            .bind(priority)
            .bind(id)
            .execute(&self.pool)
            .await;
        self.conversations.forget(id);
        touched(done?)
    }

    async fn create_bot(&self, b: &Bot) -> StoreResult<()> {
        sqlx::query("insert into bot (id, name, token_hash, created_at) values (?, ?, ?, ?)")
            .bind(b.id)
            .bind(&b.name)
            .bind(&b.token_hash)
            .bind(b.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, "a bot with that name exists"))?;
        Ok(())
    }

    async fn bot_by_token(&self, token_hash: &str, now: i64) -> StoreResult<Bot> {
        one(
            sqlx::query_as("update bot set last_used_at = ? where token_hash = ? returning *")
                .bind(now)
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn list_bots(&self) -> StoreResult<Vec<Bot>> {
        Ok(sqlx::query_as("select * from bot order by name")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn delete_bot(&self, id: Uuid) -> StoreResult<()> {
        touched(
            sqlx::query("delete from bot where id = ?")
                .bind(id)
                .execute(&self.pool)
                .await?,
        )
    }

    async fn insert_delivery(&self, d: &WebhookDelivery, keep: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into webhook_delivery (id, webhook, delivery_id, event, attempt, at, status, error, duration_ms, delivered) \
             values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(d.id)
        .bind(&d.webhook)
        .bind(d.delivery_id)
        .bind(&d.event)
        .bind(d.attempt)
        .bind(d.at)
        .bind(d.status)
        .bind(&d.error)
        .bind(d.duration_ms)
        .bind(d.delivered)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "delete from webhook_delivery where id not in \
             (select id from webhook_delivery order by at desc, id desc limit ?)",
        )
        .bind(keep)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_deliveries(&self, limit: i64) -> StoreResult<Vec<WebhookDelivery>> {
        Ok(
            sqlx::query_as("select * from webhook_delivery order by at desc, id desc limit ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        // Dropping the writer's connection closes it.
        drop(
            self.messages
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        self.pool.close().await;
    }
}
