//! [`Messages`] on SQLite: reading messages by `seq` and attachment records. Appending
//! goes through the writer's own connection (`append.rs`); this file keeps the
//! conversation cache in step with what it committed.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, FromRow, Row, sqlite::SqliteRow};
use uuid::Uuid;

use super::{SqliteStore, append, error::Db, json, named, one};
use crate::store::{
    AppendResult, Attachment, Messages, NewMessage, StoreError, StoreResult, StoredMessage,
};

/// The columns a [`StoredMessage`] is read from, in the order `append.rs` reads them.
pub(super) const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, client_msg_id, sender_role, sender_id, sender_name, body, created_at";

impl FromRow<'_, SqliteRow> for StoredMessage {
    fn from_row(row: &SqliteRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            conversation_id: row.try_get("conversation_id")?,
            seq: row.try_get("seq")?,
            client_msg_id: row.try_get("client_msg_id")?,
            sender_role: named(row, "sender_role")?,
            sender_id: row.try_get("sender_id")?,
            sender_name: row.try_get("sender_name")?,
            body: json(row, "body")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl FromRow<'_, SqliteRow> for Attachment {
    fn from_row(row: &SqliteRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            conversation_id: row.try_get("conversation_id")?,
            uploader_id: row.try_get("uploader_id")?,
            file_name: row.try_get("file_name")?,
            content_type: row.try_get("content_type")?,
            size_bytes: row.try_get("size_bytes")?,
            sha256: row.try_get("sha256")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl SqliteStore {
    fn append_tx(&self, batch: &[NewMessage]) -> StoreResult<append::Appended> {
        // Nothing panics while it is held; a poisoned lock still guards a usable connection.
        let mut writer = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        writer
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("the store is closed".into()))?
            .append(batch)
    }
}

#[async_trait]
impl Messages for SqliteStore {
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
        sqlx::query_as(AssertSqlSafe(format!(
            "select {MESSAGE_COLUMNS} from message where conversation_id = ? and seq > ? \
             and (? or private = 0) order by seq limit ?"
        )))
        .bind(conversation_id)
        .bind(after_seq)
        .bind(include_private)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .db()
    }

    async fn messages_before(
        &self,
        conversation_id: Uuid,
        before_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> StoreResult<Vec<StoredMessage>> {
        let mut page: Vec<StoredMessage> = sqlx::query_as(AssertSqlSafe(format!(
            "select {MESSAGE_COLUMNS} from message where conversation_id = ? and seq < ? \
             and (? or private = 0) order by seq desc limit ?"
        )))
        .bind(conversation_id)
        .bind(before_seq)
        .bind(include_private)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .db()?;
        page.reverse();
        Ok(page)
    }

    async fn sent_message(
        &self,
        sender_id: Uuid,
        client_msg_id: &str,
    ) -> StoreResult<StoredMessage> {
        one(sqlx::query_as(AssertSqlSafe(format!(
            "select {MESSAGE_COLUMNS} from message where sender_id = ? and client_msg_id = ?"
        )))
        .bind(sender_id)
        .bind(client_msg_id)
        .fetch_optional(&self.pool)
        .await
        .db()?)
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
        .await
        .db()?;
        Ok(())
    }

    async fn attachment(&self, id: Uuid) -> StoreResult<Attachment> {
        one(sqlx::query_as("select * from attachment where id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()?)
    }
}
