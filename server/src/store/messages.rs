//! Messages (appended in batches, read by `seq`) and the records of uploaded attachments.

use async_trait::async_trait;
use uuid::Uuid;

use super::{AppendResult, Attachment, NewMessage, StoreResult, StoredMessage};

/// Messages and attachments.
#[async_trait]
pub trait Messages: Send + Sync {
    /// Stores a batch in one transaction, assigning each new message the next `seq` of its
    /// conversation. A message whose `(sender_id, client_msg_id)` exists already yields the
    /// stored one with `duplicate = true`. Results are in input order. May block its thread
    /// until the commit: `sessions::writer` calls it from a thread of its own.
    async fn append_messages(&self, batch: &[NewMessage]) -> StoreResult<Vec<AppendResult>>;
    /// Messages with `seq > after_seq`, ascending, at most `limit`.
    async fn messages_after(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> StoreResult<Vec<StoredMessage>>;

    /// Up to `limit` messages with `seq < before_seq`, ascending (loading older pages).
    async fn messages_before(
        &self,
        conversation_id: Uuid,
        before_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> StoreResult<Vec<StoredMessage>>;

    /// The message `sender_id` already stored under `client_msg_id` (a resend), if any.
    async fn sent_message(
        &self,
        sender_id: Uuid,
        client_msg_id: &str,
    ) -> StoreResult<StoredMessage>;

    // --- attachments ----------------------------------------------------------------
    /// Records an uploaded file (its bytes are already on disk).
    async fn insert_attachment(&self, attachment: &Attachment) -> StoreResult<()>;
    /// One attachment's record.
    async fn attachment(&self, id: Uuid) -> StoreResult<Attachment>;
}
