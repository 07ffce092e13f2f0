//! Shoppers as each site knows them: anonymous or linked to the shop's customer record.

use async_trait::async_trait;
use uuid::Uuid;

use super::{StoreResult, Visitor};

/// Visitors and their tokens.
#[async_trait]
pub trait Visitors: Send + Sync {
    /// Stores a new visitor.
    async fn create_visitor(&self, visitor: &Visitor) -> StoreResult<()>;
    /// Finds a visitor by the hash of its token.
    async fn visitor_by_token(&self, token_hash: &str) -> StoreResult<Visitor>;
    /// Finds a visitor by id.
    async fn visitor(&self, id: Uuid) -> StoreResult<Visitor>;
    /// Finds the visitor linked to a shop customer.
    async fn visitor_by_customer(&self, site_id: &str, customer_id: &str) -> StoreResult<Visitor>;
    /// Replaces a visitor's token hash and expiry (re-identification, refresh).
    async fn refresh_visitor_token(
        &self,
        id: Uuid,
        token_hash: &str,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// Records the email and phone a shopper gave (`None` keeps the stored value).
    async fn set_visitor_contact(
        &self,
        id: Uuid,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<()>;
    /// Blocks (`Some(at)`) or unblocks (`None`) a visitor.
    async fn set_visitor_blocked(&self, id: Uuid, blocked_at: Option<i64>) -> StoreResult<()>;
    /// Links an anonymous visitor to a verified shop customer.
    async fn link_customer(&self, id: Uuid, customer_id: &str, name: &str) -> StoreResult<()>;
}
