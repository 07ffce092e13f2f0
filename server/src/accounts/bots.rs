//! Bot accounts: created by an admin with a token shown once (only its hash is kept). A
//! bot talks over REST only, each request authenticated afresh, so deleting one stops it
//! at its next request.

use kefu_proto::v1 as pb;
use uuid::Uuid;

use super::Accounts;
use crate::{
    auth::token,
    sessions::OpError,
    store::{Bot, StoreError, now_ms},
};

impl Accounts {
    /// Creates a bot named `name`; returns it with its token (the only time it is shown).
    pub async fn create_bot(&self, name: &str) -> Result<(Bot, String), OpError> {
        let (bot, token) = new_bot(name)?;
        self.store.create_bot(&bot).await?;
        Ok((bot, token))
    }

    /// All bots, by name.
    pub async fn bots(&self) -> Result<Vec<Bot>, OpError> {
        Ok(self.store.list_bots().await?)
    }

    /// Deletes a bot; its token stops working at once.
    pub async fn delete_bot(&self, id: Uuid) -> Result<(), OpError> {
        Ok(self.store.delete_bot(id).await?)
    }

    /// The bot a `kfb_…` token belongs to (recording that it was used).
    pub async fn authenticate_bot(&self, t: &str) -> Result<Bot, OpError> {
        match self.store.bot_by_token(&token::hash(t), now_ms()).await {
            Err(StoreError::NotFound) => Err(OpError::new(
                pb::ErrorCode::Unauthenticated,
                "unknown bot token; it may have been deleted",
            )),
            other => Ok(other?),
        }
    }
}

/// A bot account named `name` and its token (only the token's hash is stored).
pub fn new_bot(name: &str) -> Result<(Bot, String), OpError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(OpError::new(
            pb::ErrorCode::InvalidArgument,
            "name must be 1 to 64 characters",
        ));
    }
    let token = token::generate(token::BOT_PREFIX);
    let bot = Bot {
        id: Uuid::now_v7(),
        name: name.to_string(),
        token_hash: token::hash(&token),
        created_at: now_ms(),
        last_used_at: None,
    };
    Ok((bot, token))
}
