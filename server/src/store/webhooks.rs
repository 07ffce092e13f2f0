//! The log of webhook delivery attempts (the webhooks themselves are configured in
//! `kefu.toml`, not stored).

use async_trait::async_trait;

use super::{StoreResult, WebhookDelivery};

/// Webhook delivery attempts.
#[async_trait]
pub trait WebhookLog: Send + Sync {
    /// Records one webhook delivery attempt, keeping only the newest `keep` attempts.
    async fn insert_delivery(&self, d: &WebhookDelivery, keep: i64) -> StoreResult<()>;
    /// The newest delivery attempts, newest first.
    async fn list_deliveries(&self, limit: i64) -> StoreResult<Vec<WebhookDelivery>>;
}
