//! What the REST API reads about conversations, and the small records kept beside them:
//! lists, the shopper behind a conversation, attachments, ratings. Every read that names a
//! conversation is authorised for its caller here.

use uuid::Uuid;

use super::{Caller, OpError, Sessions};
use crate::store::{
    Attachment, ConvState, Conversation, ConversationFilter, Rating, StoredMessage, Visitor, now_ms,
};

impl Sessions {
    /// Conversations matching a filter, newest activity first (the caller built the filter
    /// from what its role may see).
    pub async fn list(&self, filter: &ConversationFilter) -> Result<Vec<Conversation>, OpError> {
        Ok(self.store.list_conversations(filter).await?)
    }

    /// One conversation, for a bot (bots see every conversation).
    pub async fn conversation_for_bot(&self, id: Uuid) -> Result<Conversation, OpError> {
        Ok(self.store.conversation(id).await?)
    }

    /// Messages the shopper can see, after `after_seq`, for a bot.
    pub async fn shopper_visible_messages(
        &self,
        id: Uuid,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredMessage>, OpError> {
        self.store.conversation(id).await?;
        Ok(self
            .store
            .messages_after(id, after_seq.max(0), limit, false)
            .await?)
    }

    /// The shopper of a conversation the agent may see, and their earlier conversations
    /// (newest first, at most `limit`).
    pub async fn shopper_of(
        &self,
        caller: &Caller,
        conv: Uuid,
        limit: i64,
    ) -> Result<(Visitor, Vec<Conversation>), OpError> {
        let c = self.authorize(caller, conv, false).await?;
        let visitor = self.store.visitor(c.visitor_id).await?;
        let earlier = self
            .store
            .conversations_of_visitor(visitor.id, limit)
            .await?;
        Ok((visitor, earlier))
    }

    /// Checks that `caller` may attach a file to `conv` now: agents not to closed ones.
    pub async fn may_attach(&self, caller: &Caller, conv: Uuid) -> Result<(), OpError> {
        let c = self.authorize(caller, conv, true).await?;
        if c.state == ConvState::Closed && matches!(caller, Caller::Agent(_)) {
            return Err(OpError::closed());
        }
        Ok(())
    }

    /// Records an uploaded file (its bytes are already on disk).
    pub async fn add_attachment(&self, a: &Attachment) -> Result<(), OpError> {
        Ok(self.store.insert_attachment(a).await?)
    }

    /// An attachment's record, if `caller` may see its conversation.
    pub async fn attachment(&self, caller: &Caller, id: Uuid) -> Result<Attachment, OpError> {
        let a = self.store.attachment(id).await?;
        self.authorize(caller, a.conversation_id, false).await?;
        Ok(a)
    }

    /// The shopper's rating of a conversation, if given.
    pub async fn rating(&self, conv: Uuid) -> Result<Option<Rating>, OpError> {
        Ok(self.store.rating(conv).await?)
    }

    /// The shopper rates its own closed conversation, once (`Conflict` after that);
    /// agents see the rating as an activity entry.
    pub async fn rate(
        &self,
        caller: &Caller,
        conv: Uuid,
        score: i64,
        comment: &str,
    ) -> Result<(), OpError> {
        let c = self.authorize(caller, conv, true).await?;
        if c.state != ConvState::Closed {
            return Err(OpError::new(
                kefu_proto::v1::ErrorCode::Conflict,
                "a conversation is rated after it closed",
            ));
        }
        let rating = Rating {
            score,
            comment: comment.to_string(),
            created_at: now_ms(),
        };
        self.store.insert_rating(conv, &rating).await?;
        let stars = "★".repeat(score.clamp(0, 5) as usize);
        let text = match comment.is_empty() {
            true => format!("Rated {score}/5 {stars}"),
            false => format!("Rated {score}/5 {stars} · {comment}"),
        };
        self.system_message(conv, "rated", text).await
    }
}
