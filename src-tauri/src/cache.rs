//! The local cache (SQLite via sqlx). Messages are keyed by `(conversation, seq)`, so a
//! message received twice (live and in a resume) is stored once. The outbox is written
//! before anything is sent, so a message typed offline survives a restart. Conversation
//! rows carry what the list shows (state, preview, unread), so the app starts offline.

use std::{path::Path, str::FromStr};

use kefu_proto::v1 as pb;
use prost::Message as _;
use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::model::{ConversationState, ConversationSummary, PageContext, Priority, View};

/// Most rows a list view returns (newest activity first); older ones are found by search.
pub const LIST_ROWS: u32 = 200;

/// A message waiting in the outbox.
#[derive(Debug, Clone)]
pub struct Pending {
    pub client_msg_id: String,
    pub conversation_id: String,
    pub send: pb::SendMessage,
    pub created_at: i64,
}

/// What is known about a conversation from the server (list, offer or event).
#[derive(Debug, Clone, Default)]
pub struct ConversationInfo {
    pub id: String,
    pub state: Option<ConversationState>,
    pub group: Option<String>,
    /// `Some(None)`: nobody has it.
    pub agent_id: Option<Option<String>>,
    pub shopper_name: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub queue_position: Option<Option<u32>>,
    pub offer_expires_at: Option<Option<i64>>,
    pub closed_at: Option<Option<i64>>,
    /// The server's latest page context; it replaces the cached one whole (the server's
    /// "unknown" clears it).
    pub page: Option<PageContext>,
    /// The server's current tags; they replace the cached ones whole.
    pub tags: Option<Vec<String>>,
    pub priority: Option<Priority>,
    /// From a REST view rather than an event. The views know nothing of offers (they live
    /// in the server's router and arrive as events), so their "queued" keeps a cached offer.
    pub listed: bool,
}

/// SQL for the seq a conversation `c` is resumed from: the end of the unbroken run of
/// messages held from seq 1 on. Usually the highest seq held; lower when a later message
/// arrived live and the resume that was to bring the earlier ones was cut short (connection
/// lost, app closed): resuming from the highest seq would leave that gap for good.
/// (A macro so the query stays a static string.)
macro_rules! resume_from {
    () => {
        "(case \
         when not exists (select 1 from message m where m.conversation_id = c.id and m.seq = 1) then 0 \
         else (select min(m.seq) from message m where m.conversation_id = c.id and not exists \
               (select 1 from message n where n.conversation_id = c.id and n.seq = m.seq + 1)) end)"
    };
}

/// The desktop's cache: one per server and agent.
#[derive(Clone)]
pub struct Cache {
    pool: SqlitePool,
    /// The agent whose cache this is: what is "mine" ([`View::of`]).
    me: std::sync::Arc<str>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Text shown in the list and matched by search.
pub fn preview(m: &pb::Message) -> String {
    preview_text(m.body.as_ref())
}

/// Text shown for a message body in lists and notifications.
pub fn preview_text(body: Option<&pb::MessageBody>) -> String {
    use pb::message_body::Kind;
    match body.and_then(|b| b.kind.as_ref()) {
        Some(Kind::Text(t)) => t.text.clone(),
        Some(Kind::PrivateNote(n)) => n.text.clone(),
        Some(Kind::Attachment(a)) => a.file_name.clone(),
        Some(Kind::OrderCard(o)) => format!("#{}", o.order_id),
        Some(Kind::ReturnCard(r)) => format!("#{}", r.return_id),
        Some(Kind::ProductCard(p)) => p.title.clone(),
        Some(Kind::System(s)) => s.text.clone(),
        None => String::new(),
    }
}

fn is_shopper(m: &pb::Message) -> bool {
    m.sender.as_ref().map(|s| s.role) == Some(pb::Role::Shopper as i32)
}

/// A list row; `me` (the cache's agent) decides its views.
fn summary(r: &sqlx::sqlite::SqliteRow, me: &str) -> Result<ConversationSummary, sqlx::Error> {
    let state = ConversationState::parse(r.try_get("state")?);
    let agent_id: Option<String> = r.try_get("agent_id")?;
    let page = PageContext {
        url: r.try_get("page_url")?,
        title: r.try_get("page_title")?,
        product_id: r.try_get("page_product_id")?,
        order_id: r.try_get("page_order_id")?,
    };
    Ok(ConversationSummary {
        id: r.try_get("id")?,
        state,
        group: r.try_get("group_name")?,
        views: View::of(state, agent_id.as_deref(), me),
        agent_id,
        shopper_name: r.try_get("shopper_name")?,
        last_preview: r.try_get("last_preview")?,
        last_at: r.try_get("last_at")?,
        created_at: r.try_get("created_at")?,
        unread: r.try_get::<i64, _>("unread")? as u32,
        queue_position: r
            .try_get::<Option<i64>, _>("queue_position")?
            .map(|p| p as u32),
        offer_expires_at: r.try_get("offer_expires_at")?,
        page: (page != PageContext::default()).then_some(page),
        tags: serde_json::from_str(r.try_get("tags")?)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        priority: Priority::parse(r.try_get("priority")?),
    })
}

fn decode_messages(rows: &[sqlx::sqlite::SqliteRow]) -> anyhow::Result<Vec<pb::Message>> {
    rows.iter()
        .map(|r| {
            Ok(pb::Message::decode(
                r.try_get::<Vec<u8>, _>("frame")?.as_slice(),
            )?)
        })
        .collect()
}

impl Cache {
    /// Opens (creating) the cache file and migrates it.
    /// Opens (creating if need be) the cache of the agent with id `me`.
    pub async fn open(path: &Path, me: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self {
            pool,
            me: me.into(),
        })
    }

    /// Stores a message from the server; returns false if it was already cached. A new
    /// shopper message counts as unread unless `focused` (the agent is looking at it).
    pub async fn store_message(&self, m: &pb::Message, focused: bool) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "insert into message (conversation_id, seq, id, client_msg_id, sender_role, sender_name, frame, created_at, text) \
             values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
        )
        .bind(&m.conversation_id)
        .bind(m.seq as i64)
        .bind(&m.id)
        .bind(&m.client_msg_id)
        .bind(m.sender.as_ref().map_or(0, |s| s.role))
        .bind(m.sender.as_ref().map(|s| s.display_name.clone()).unwrap_or_default())
        .bind(m.encode_to_vec())
        .bind(m.created_at_ms)
        .bind(preview(m))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let unread = i64::from(inserted && is_shopper(m) && !focused);
        let shopper_name = if is_shopper(m) {
            m.sender
                .as_ref()
                .map(|s| s.display_name.clone())
                .unwrap_or_default()
        } else {
            String::new()
        };
        sqlx::query(
            "insert into conversation (id, last_seq, updated_at, last_at, created_at, last_preview, unread, shopper_name) \
             values (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7) \
             on conflict (id) do update set \
               last_seq = max(last_seq, excluded.last_seq), updated_at = excluded.updated_at, \
               last_preview = case when excluded.last_seq >= last_seq then excluded.last_preview else last_preview end, \
               last_at = max(last_at, excluded.last_at), \
               unread = case when excluded.last_seq > read_seq then unread + excluded.unread else unread end, \
               shopper_name = case when shopper_name = '' then excluded.shopper_name else shopper_name end",
        )
        .bind(&m.conversation_id)
        .bind(m.seq as i64)
        .bind(now_ms())
        .bind(m.created_at_ms)
        .bind(preview(m))
        .bind(unread)
        .bind(shopper_name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Records what the server says about a conversation; fields left `None` keep their value.
    pub async fn upsert(&self, c: &ConversationInfo) -> anyhow::Result<()> {
        let now = now_ms();
        sqlx::query(
            "insert into conversation (id, updated_at, created_at, last_at) values (?1, ?2, ?3, ?3) \
             on conflict do nothing",
        )
        .bind(&c.id)
        .bind(now)
        .bind(c.created_at.unwrap_or(now))
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "update conversation set \
               state = case when ?23 and ?2 = 'queued' and state = 'offered' then state \
                            else coalesce(?2, state) end, \
               group_name = coalesce(?3, group_name), \
               agent_id = case when ?4 then ?5 else agent_id end, \
               shopper_name = case when ?6 is not null and ?6 != '' then ?6 else shopper_name end, \
               created_at = coalesce(?7, created_at), \
               last_at = max(last_at, coalesce(?8, 0)), \
               queue_position = case when ?9 then ?10 else queue_position end, \
               offer_expires_at = case when ?11 then ?12 else offer_expires_at end, \
               closed_at = case when ?13 then ?14 else closed_at end, \
               updated_at = ?15, \
               page_url = case when ?16 then ?17 else page_url end, \
               page_title = case when ?16 then ?18 else page_title end, \
               page_product_id = case when ?16 then ?19 else page_product_id end, \
               page_order_id = case when ?16 then ?20 else page_order_id end, \
               tags = coalesce(?21, tags), priority = coalesce(?22, priority) \
             where id = ?1",
        )
        .bind(&c.id)
        .bind(c.state.map(|s| s.as_str()))
        .bind(&c.group)
        .bind(c.agent_id.is_some())
        .bind(c.agent_id.clone().flatten())
        .bind(&c.shopper_name)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.queue_position.is_some())
        .bind(c.queue_position.flatten().map(i64::from))
        .bind(c.offer_expires_at.is_some())
        .bind(c.offer_expires_at.flatten())
        .bind(c.closed_at.is_some())
        .bind(c.closed_at.flatten())
        .bind(now)
        .bind(c.page.is_some())
        .bind(c.page.as_ref().and_then(|p| p.url.clone()))
        .bind(c.page.as_ref().and_then(|p| p.title.clone()))
        .bind(c.page.as_ref().and_then(|p| p.product_id.clone()))
        .bind(c.page.as_ref().and_then(|p| p.order_id.clone()))
        .bind(c.tags.as_ref().map(serde_json::to_string).transpose()?)
        .bind(c.priority.map(|p| p.as_str()))
        .bind(c.listed)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One row of the list.
    pub async fn conversation(&self, id: &str) -> anyhow::Result<Option<ConversationSummary>> {
        let row = sqlx::query("select * from conversation where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(|r| summary(r, &self.me)).transpose()?)
    }

    /// A view of the list (offers first, then newest activity first), at most
    /// [`LIST_ROWS`]; `query` keeps conversations whose shopper name or cached messages
    /// contain it. The states narrow the read; [`View::of`] decides membership.
    pub async fn list(
        &self,
        view: View,
        query: Option<&str>,
    ) -> anyhow::Result<Vec<ConversationSummary>> {
        let states: Vec<&str> = view.states().into_iter().map(|s| s.as_str()).collect();
        let pattern = query.map(str::trim).filter(|q| !q.is_empty()).map(|q| {
            format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
        let mut rows = sqlx::query(
            "select * from conversation c \
             where state in (select value from json_each(?1)) \
               and (?2 is null or c.shopper_name like ?2 escape '\\' or exists \
                    (select 1 from message m where m.conversation_id = c.id and m.text like ?2 escape '\\')) \
             order by case when state = 'offered' then 0 else 1 end, last_at desc",
        )
        .bind(serde_json::to_string(&states)?)
        .bind(pattern)
        .fetch(&self.pool);
        let mut list = Vec::new();
        while list.len() < LIST_ROWS as usize {
            let Some(row) = futures_util::TryStreamExt::try_next(&mut rows).await? else {
                break;
            };
            let c = summary(&row, &self.me)?;
            if c.views.contains(&view) {
                list.push(c);
            }
        }
        Ok(list)
    }

    /// Conversations to resume after a (re)connect, with where to resume from: those that
    /// are mine and open.
    pub async fn positions(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let rows = sqlx::query(concat!(
            "select id, ",
            resume_from!(),
            " as last_seq from conversation c where state = 'assigned' order by updated_at desc"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get::<i64, _>("last_seq")? as u64)))
            .collect()
    }

    /// Offers belong to a connection: the server withdraws an agent's offers when its last
    /// connection drops and re-sends those it still holds to a new one. So offers cached
    /// from an earlier connection are void once a new one starts.
    pub async fn void_offers(&self) -> anyhow::Result<()> {
        sqlx::query(
            "update conversation set state = 'queued', offer_expires_at = null \
             where state = 'offered'",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ids of the conversations the cache holds as assigned to `agent_id`.
    pub async fn assigned_to(&self, agent_id: &str) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "select id from conversation where state = 'assigned' and agent_id = ?",
        )
        .bind(agent_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Remembers a conversation (e.g. on accept) so it is resumed after reconnects.
    pub async fn track(&self, conversation_id: &str) -> anyhow::Result<()> {
        self.upsert(&ConversationInfo {
            id: conversation_id.into(),
            ..Default::default()
        })
        .await
    }

    /// Where to resume a conversation from (0 if nothing is cached; see `resume_from!`).
    pub async fn last_seq(&self, conversation_id: &str) -> anyhow::Result<u64> {
        let seq: Option<i64> = sqlx::query_scalar(concat!(
            "select ",
            resume_from!(),
            " from conversation c where id = ?"
        ))
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(seq.unwrap_or(0) as u64)
    }

    /// A conversation's cached messages in seq order.
    pub async fn messages(&self, conversation_id: &str) -> anyhow::Result<Vec<pb::Message>> {
        let rows = sqlx::query("select frame from message where conversation_id = ? order by seq")
            .bind(conversation_id)
            .fetch_all(&self.pool)
            .await?;
        decode_messages(&rows)
    }

    /// Up to `limit` cached messages before `before_seq` (all the newest when `None`), in
    /// seq order.
    pub async fn page(
        &self,
        conversation_id: &str,
        before_seq: Option<u64>,
        limit: u32,
    ) -> anyhow::Result<Vec<pb::Message>> {
        let rows = sqlx::query(
            "select frame from (select frame, seq from message where conversation_id = ? and seq < ? \
             order by seq desc limit ?) order by seq",
        )
        .bind(conversation_id)
        .bind(before_seq.map_or(i64::MAX, |s| s as i64))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        decode_messages(&rows)
    }

    /// The agent read a conversation up to `seq`: its unread count goes to zero.
    pub async fn mark_read(&self, conversation_id: &str, seq: u64) -> anyhow::Result<()> {
        sqlx::query("update conversation set unread = 0, read_seq = max(read_seq, ?) where id = ?")
            .bind(seq as i64)
            .bind(conversation_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Unread messages over every open conversation (the tray's badge).
    pub async fn unread_total(&self) -> anyhow::Result<u32> {
        let n: i64 = sqlx::query_scalar(
            "select coalesce(sum(unread), 0) from conversation where state != 'closed'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u32)
    }

    /// Puts a message in the outbox (durably, before any attempt to send it).
    pub async fn enqueue(&self, send: &pb::SendMessage) -> anyhow::Result<()> {
        sqlx::query("insert into outbox (client_msg_id, conversation_id, frame, created_at) values (?, ?, ?, ?)")
            .bind(&send.client_msg_id)
            .bind(&send.conversation_id)
            .bind(send.encode_to_vec())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The outbox in the order it was written (`conversation_id`: only that conversation's).
    pub async fn pending(&self, conversation_id: Option<&str>) -> anyhow::Result<Vec<Pending>> {
        let rows = sqlx::query(
            "select client_msg_id, conversation_id, frame, created_at from outbox \
             where ?1 is null or conversation_id = ?1 order by position",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Pending {
                    client_msg_id: r.try_get("client_msg_id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    send: pb::SendMessage::decode(r.try_get::<Vec<u8>, _>("frame")?.as_slice())?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// The server acknowledged (or permanently refused) a message: it leaves the outbox.
    pub async fn settle(&self, client_msg_id: &str) -> anyhow::Result<()> {
        sqlx::query("delete from outbox where client_msg_id = ?")
            .bind(client_msg_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Keeps the last customer view received for a conversation.
    pub async fn put_customer_view(
        &self,
        conversation_id: &str,
        json: &serde_json::Value,
    ) -> anyhow::Result<i64> {
        let now = now_ms();
        sqlx::query(
            "insert into customer_view (conversation_id, json, received_at) values (?, ?, ?) \
             on conflict (conversation_id) do update set json = excluded.json, received_at = excluded.received_at",
        )
        .bind(conversation_id)
        .bind(json.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(now)
    }

    /// The cached customer view and when it was received.
    pub async fn customer_view(
        &self,
        conversation_id: &str,
    ) -> anyhow::Result<Option<(serde_json::Value, i64)>> {
        let row =
            sqlx::query("select json, received_at from customer_view where conversation_id = ?")
                .bind(conversation_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok((
                serde_json::from_str(r.try_get("json")?)?,
                r.try_get("received_at")?,
            ))
        })
        .transpose()
    }

    /// Drops closed conversations whose last activity is older than `days` (with their
    /// messages and customer views). Open conversations and the outbox are never dropped.
    /// Returns how many conversations left the cache.
    pub async fn prune(&self, days: u32) -> anyhow::Result<u64> {
        let cutoff = now_ms() - i64::from(days) * 86_400_000;
        // It reads before it writes: take the write lock up front, so a concurrent writer
        // makes it wait (busy timeout) instead of failing as "database is locked".
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // Old closed conversations with nothing left in the outbox.
        sqlx::query(
            "create temp table if not exists expired as select id from conversation where 0",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from expired").execute(&mut *tx).await?;
        sqlx::query(
            "insert into expired select id from conversation where state = 'closed' \
             and max(last_at, coalesce(closed_at, 0)) < ? \
             and id not in (select conversation_id from outbox)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from message where conversation_id in (select id from expired)")
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from customer_view where conversation_id in (select id from expired)")
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("delete from conversation where id in (select id from expired)")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
