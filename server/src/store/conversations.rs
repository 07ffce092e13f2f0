//! Conversations: their lifecycle (queued, assigned, closed), assignment guarded in the
//! store, the page the shopper is on, tags, priority and the shopper's rating.

use async_trait::async_trait;
use uuid::Uuid;

use super::{Conversation, ConversationFilter, PageContext, Priority, Rating, StoreResult};

/// The conflict when a visitor would have two open conversations (the schema allows one).
pub const OPEN_ALREADY: &str = "the visitor already has an open conversation";

/// Conversations and what hangs off one conversation row.
#[async_trait]
pub trait Conversations: Send + Sync {
    /// Opens a conversation in state `queued`; [`OPEN_ALREADY`] if its visitor has one open
    /// (another node opened it a moment ago).
    async fn create_conversation(&self, conv: &Conversation) -> StoreResult<()>;
    /// One conversation.
    async fn conversation(&self, id: Uuid) -> StoreResult<Conversation>;
    /// The visitor's newest conversation, open or closed.
    async fn latest_conversation_of_visitor(&self, visitor_id: Uuid) -> StoreResult<Conversation>;
    /// A visitor's conversations, newest first (earlier chats in the customer view).
    async fn conversations_of_visitor(
        &self,
        visitor_id: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<Conversation>>;
    /// Conversations matching a filter, newest activity first.
    async fn list_conversations(
        &self,
        filter: &ConversationFilter,
    ) -> StoreResult<Vec<Conversation>>;
    /// Conversations not closed (used to rebuild routing state at start).
    async fn open_conversations(&self) -> StoreResult<Vec<Conversation>>;
    /// Assigned conversations idle since before `before`. Queued ones are left alone: they
    /// wait for a human (a message left while nobody was online must not expire unread).
    async fn idle_conversations(&self, before: i64) -> StoreResult<Vec<Conversation>>;
    /// Assigns only if nobody has it (`agent_id is null` or offered to this agent): the SQL
    /// guard that makes double assignment impossible. Returns whether this call assigned it.
    async fn assign_if_unassigned(&self, id: Uuid, agent_id: Uuid, at: i64) -> StoreResult<bool>;
    /// Moves an assigned conversation from one agent to another, only if `from` still has it.
    async fn reassign(&self, id: Uuid, from: Uuid, to: Uuid, at: i64) -> StoreResult<bool>;
    /// Puts a conversation (back) into a group's queue, unassigned.
    async fn requeue(&self, id: Uuid, group: &str, at: i64) -> StoreResult<()>;
    /// Closes a conversation; returns false if it was already closed.
    async fn close_conversation(&self, id: Uuid, reason: &str, at: i64) -> StoreResult<bool>;
    /// Reopens a closed conversation into a queue; false if it was not closed,
    /// [`OPEN_ALREADY`] if its visitor has another one open.
    async fn reopen_conversation(&self, id: Uuid, group: &str, at: i64) -> StoreResult<bool>;
    /// Records the page the shopper is on (replacing the previous one).
    async fn set_page_context(&self, id: Uuid, context: &PageContext) -> StoreResult<()>;
    /// Stores the shopper's rating; `Conflict` if the conversation was rated already.
    async fn insert_rating(&self, id: Uuid, rating: &Rating) -> StoreResult<()>;
    /// The conversation's rating, if the shopper gave one.
    async fn rating(&self, id: Uuid) -> StoreResult<Option<Rating>>;

    /// Adds tags the conversation does not have yet; returns all its tags.
    async fn add_tags(&self, id: Uuid, tags: &[String]) -> StoreResult<Vec<String>>;
    /// Sets how urgently the conversation needs a human.
    async fn set_priority(&self, id: Uuid, priority: Priority) -> StoreResult<()>;
}
