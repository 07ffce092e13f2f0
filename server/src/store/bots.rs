//! Bot accounts, which act on conversations over REST with a bearer token.

use async_trait::async_trait;
use uuid::Uuid;

use super::{Bot, StoreResult};

/// Bot accounts.
#[async_trait]
pub trait Bots: Send + Sync {
    /// Creates a bot account; `Conflict` if the name is taken.
    async fn create_bot(&self, bot: &Bot) -> StoreResult<()>;
    /// Finds a bot by the hash of its token and records that it was used.
    async fn bot_by_token(&self, token_hash: &str, now: i64) -> StoreResult<Bot>;
    /// All bots, by name.
    async fn list_bots(&self) -> StoreResult<Vec<Bot>>;
    /// Deletes a bot; its token stops working at once.
    async fn delete_bot(&self, id: Uuid) -> StoreResult<()>;
}
