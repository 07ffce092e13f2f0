//! Canned replies: the team's shared answers, by shortcut.

use uuid::Uuid;

use super::Accounts;
use crate::{
    sessions::OpError,
    store::{CannedReply, now_ms},
};

/// What an agent writes to create or change a canned reply.
pub struct CannedText {
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

impl Accounts {
    /// All canned replies by shortcut.
    pub async fn canned_replies(&self) -> Result<Vec<CannedReply>, OpError> {
        Ok(self.store.list_canned().await?)
    }

    /// Creates a canned reply written by `author`.
    pub async fn create_canned(&self, author: Uuid, c: CannedText) -> Result<CannedReply, OpError> {
        let now = now_ms();
        let reply = CannedReply {
            id: Uuid::now_v7(),
            shortcut: c.shortcut,
            title: c.title,
            body: c.body,
            created_by: author,
            created_at: now,
            updated_at: now,
        };
        self.store.upsert_canned(&reply).await?;
        Ok(reply)
    }

    /// Replaces a canned reply's text.
    pub async fn update_canned(&self, id: Uuid, c: CannedText) -> Result<CannedReply, OpError> {
        let old = self.store.canned(id).await?;
        let reply = CannedReply {
            shortcut: c.shortcut,
            title: c.title,
            body: c.body,
            updated_at: now_ms(),
            ..old
        };
        self.store.upsert_canned(&reply).await?;
        Ok(reply)
    }

    /// Deletes one canned reply.
    pub async fn delete_canned(&self, id: Uuid) -> Result<(), OpError> {
        Ok(self.store.delete_canned(id).await?)
    }
}
