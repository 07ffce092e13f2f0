//! Canned replies: saved answers agents insert with `/shortcut`.

use async_trait::async_trait;
use uuid::Uuid;

use super::{CannedReply, StoreResult};

/// Canned replies.
#[async_trait]
pub trait CannedReplies: Send + Sync {
    /// All canned replies by shortcut.
    async fn list_canned(&self) -> StoreResult<Vec<CannedReply>>;
    /// Creates or replaces a canned reply by id.
    async fn upsert_canned(&self, reply: &CannedReply) -> StoreResult<()>;
    /// One canned reply.
    async fn canned(&self, id: Uuid) -> StoreResult<CannedReply>;
    /// Deletes one canned reply.
    async fn delete_canned(&self, id: Uuid) -> StoreResult<()>;
}
