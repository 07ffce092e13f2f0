//! The delivery log as admins read it: every attempt, newest first.

use std::sync::Arc;

use crate::store::{Store, StoreResult, WebhookDelivery};

/// Read access to the webhook delivery log.
#[derive(Clone)]
pub struct DeliveryLog(Arc<dyn Store>);

impl DeliveryLog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self(store)
    }

    /// The newest `limit` delivery attempts, newest first.
    pub async fn recent(&self, limit: i64) -> StoreResult<Vec<WebhookDelivery>> {
        self.0.list_deliveries(limit).await
    }
}
