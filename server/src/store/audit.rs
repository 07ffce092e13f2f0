//! The audit log: actions taken (or refused) in the retailer's systems from a chat.

use async_trait::async_trait;
use uuid::Uuid;

use super::{AuditEntry, StoreResult};

/// The audit log.
#[async_trait]
pub trait Audit: Send + Sync {
    /// Records an action taken (or refused) in the retailer's systems.
    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Newest first, optionally for one conversation.
    async fn list_audit(
        &self,
        conversation_id: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>>;
}
