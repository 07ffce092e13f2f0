//! [`Messages`] on PostgreSQL: reading messages by `seq` and attachment records. Appending
//! is in `append.rs`.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, FromRow, Row, postgres::PgRow, types::Json};
use uuid::Uuid;

use super::{PgStore, append, error::Db, named, one};
use crate::store::{AppendResult, Attachment, Messages, NewMessage, StoreResult, StoredMessage};

/// The columns a [`StoredMessage`] is read from.
pub(super) const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, client_msg_id, sender_role, sender_id, sender_name, body, created_at";

impl FromRow<'_, PgRow> for StoredMessage {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        let Json(body) = row.try_get("body")?;
        Ok(Self {
            id: row.try_get("id")?,
            conversation_id: row.try_get("conversation_id")?,
            seq: row.try_get("seq")?,
            client_msg_id: row.try_get("client_msg_id")?,
            sender_role: named(row, "sender_role")?,
            sender_id: row.try_get("sender_id")?,
            sender_name: row.try_get("sender_name")?,
            body,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl FromRow<'_, PgRow> for Attachment {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
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

#[async_trait]
impl Messages for PgStore {
    async fn append_messages(&self, batch: &[NewMessage]) -> StoreResult<Vec<AppendResult>> {
        append::append(&self.writer, batch).await
    }

    async fn messages_after(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> StoreResult<Vec<StoredMessage>> {
        sqlx::query_as(AssertSqlSafe(format!(
            "select {MESSAGE_COLUMNS} from message where conversation_id = $1 and seq > $2 \
             and ($3 or not private) order by seq limit $4"
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
            "select {MESSAGE_COLUMNS} from message where conversation_id = $1 and seq < $2 \
             and ($3 or not private) order by seq desc limit $4"
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
            "select {MESSAGE_COLUMNS} from message where sender_id = $1 and client_msg_id = $2"
        )))
        .bind(sender_id)
        .bind(client_msg_id)
        .fetch_optional(&self.pool)
        .await
        .db()?)
    }

    async fn insert_attachment(&self, a: &Attachment) -> StoreResult<()> {
        sqlx::query(
            "insert into attachment (id, conversation_id, uploader_id, file_name, content_type, \
             size_bytes, sha256, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8)",
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
        one(sqlx::query_as("select * from attachment where id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .db()?)
    }
}
