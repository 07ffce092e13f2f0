//! The local cache (SQLite via sqlx). Messages are keyed by `(conversation, seq)`, so a
//! message received twice (live and in a resume) is stored once. The outbox is written
//! before anything is sent, so a message typed offline survives a restart.

use std::{path::Path, str::FromStr};

use kefu_proto::v1 as pb;
use prost::Message as _;
use sqlx::{
    Row, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// A message waiting in the outbox.
#[derive(Debug, Clone)]
pub struct Pending {
    pub client_msg_id: String,
    pub conversation_id: String,
    pub send: pb::SendMessage,
}

/// The desktop's cache.
#[derive(Clone)]
pub struct Cache {
    pool: SqlitePool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Cache {
    /// Opens (creating) the cache file and migrates it.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Stores a message from the server; returns false if it was already cached.
    pub async fn store_message(&self, m: &pb::Message) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "insert into message (conversation_id, seq, id, client_msg_id, sender_role, sender_name, frame, created_at) \
             values (?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
        )
        .bind(&m.conversation_id)
        .bind(m.seq as i64)
        .bind(&m.id)
        .bind(&m.client_msg_id)
        .bind(m.sender.as_ref().map_or(0, |s| s.role))
        .bind(m.sender.as_ref().map(|s| s.display_name.clone()).unwrap_or_default())
        .bind(m.encode_to_vec())
        .bind(m.created_at_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query(
            "insert into conversation (id, last_seq, updated_at) values (?, ?, ?) \
             on conflict (id) do update set last_seq = max(last_seq, excluded.last_seq), updated_at = excluded.updated_at",
        )
        .bind(&m.conversation_id)
        .bind(m.seq as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Remembers a conversation (e.g. on accept) so it is resumed after reconnects.
    pub async fn track(&self, conversation_id: &str) -> anyhow::Result<()> {
        sqlx::query(
            "insert into conversation (id, updated_at) values (?, ?) on conflict do nothing",
        )
        .bind(conversation_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every cached conversation with the highest seq held.
    pub async fn positions(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let rows = sqlx::query("select id, last_seq from conversation order by updated_at desc")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get::<i64, _>("last_seq")? as u64)))
            .collect()
    }

    /// The highest seq cached for a conversation (0 if none).
    pub async fn last_seq(&self, conversation_id: &str) -> anyhow::Result<u64> {
        let seq: Option<i64> = sqlx::query_scalar("select last_seq from conversation where id = ?")
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
        rows.iter()
            .map(|r| {
                Ok(pb::Message::decode(
                    r.try_get::<Vec<u8>, _>("frame")?.as_slice(),
                )?)
            })
            .collect()
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

    /// The outbox in the order it was written.
    pub async fn pending(&self) -> anyhow::Result<Vec<Pending>> {
        let rows = sqlx::query(
            "select client_msg_id, conversation_id, frame from outbox order by position",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Pending {
                    client_msg_id: r.try_get("client_msg_id")?,
                    conversation_id: r.try_get("conversation_id")?,
                    send: pb::SendMessage::decode(r.try_get::<Vec<u8>, _>("frame")?.as_slice())?,
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
}
