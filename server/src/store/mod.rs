//! Durable state behind one `Store` trait: accounts, tokens, visitors, conversations,
//! messages, canned replies and attachments.
//!
//! One implementation per backend (`sqlite` now; PostgreSQL later). Everything above this
//! module talks to `Arc<dyn Store>` and never to sqlx. Ids are UUIDs, times are unix
//! milliseconds, so the SQL stays portable.

mod model;
pub mod sqlite;

pub use model::*;

use async_trait::async_trait;
use uuid::Uuid;

/// Errors a store reports to its callers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row the caller referenced does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write (e.g. a username already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed; the operation did not happen.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The message writer's connection failed; the batch was not stored.
    #[error("database error: {0}")]
    Writer(#[from] rusqlite::Error),
    /// Start-up migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything Kefu keeps on disk. Implementations must be safe to call from many tasks.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- accounts -------------------------------------------------------------------
    /// Creates an agent; `Conflict` if the username is taken.
    async fn create_agent(&self, agent: &NewAgent) -> StoreResult<Agent>;
    /// Looks an agent up by id.
    async fn agent(&self, id: Uuid) -> StoreResult<Agent>;
    /// Looks an agent up by username (login).
    async fn agent_by_username(&self, username: &str) -> StoreResult<Agent>;
    /// All agents, by username.
    async fn list_agents(&self) -> StoreResult<Vec<Agent>>;
    /// Applies a partial update.
    async fn update_agent(&self, id: Uuid, patch: &AgentPatch) -> StoreResult<Agent>;
    /// Deletes an agent and revokes its tokens.
    async fn delete_agent(&self, id: Uuid) -> StoreResult<()>;
    /// Number of agents (to know whether the first admin exists).
    async fn count_agents(&self) -> StoreResult<i64>;

    /// Creates a group; `Conflict` if the name is taken.
    async fn create_group(&self, group: &Group) -> StoreResult<Group>;
    /// All groups with their members.
    async fn list_groups(&self) -> StoreResult<Vec<Group>>;
    /// Deletes a group (its members stay).
    async fn delete_group(&self, name: &str) -> StoreResult<()>;

    // --- tokens ---------------------------------------------------------------------
    /// Stores the hash of a new agent token.
    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()>;
    /// Finds a token by its hash, whatever its state (the caller checks expiry/revocation).
    async fn token(&self, token_hash: &str) -> StoreResult<TokenRecord>;
    /// Marks a token revoked.
    async fn revoke_token(&self, token_hash: &str, at: i64) -> StoreResult<()>;

    // --- visitors -------------------------------------------------------------------
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
    /// Links an anonymous visitor to a verified shop customer.
    async fn link_customer(&self, id: Uuid, customer_id: &str, name: &str) -> StoreResult<()>;

    // --- conversations --------------------------------------------------------------
    /// Opens a conversation in state `queued`.
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
    /// Reopens a closed conversation into a queue; false if it was not closed.
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

    // --- messages -------------------------------------------------------------------
    /// Stores a batch in one transaction, assigning each new message the next `seq` of its
    /// conversation. A message whose `(sender_id, client_msg_id)` exists already yields the
    /// stored one with `duplicate = true`. Results are in input order. May block its thread
    /// until the commit: `sessions::writer` calls it from a thread of its own.
    async fn append_messages(&self, batch: &[NewMessage]) -> StoreResult<Vec<AppendResult>>;
    /// Messages with `seq > after_seq`, ascending, at most `limit`.
    async fn messages_after(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> StoreResult<Vec<StoredMessage>>;

    /// Up to `limit` messages with `seq < before_seq`, ascending (loading older pages).
    async fn messages_before(
        &self,
        conversation_id: Uuid,
        before_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> StoreResult<Vec<StoredMessage>>;

    // --- canned replies -------------------------------------------------------------
    /// All canned replies by shortcut.
    async fn list_canned(&self) -> StoreResult<Vec<CannedReply>>;
    /// Creates or replaces a canned reply by id.
    async fn upsert_canned(&self, reply: &CannedReply) -> StoreResult<()>;
    /// One canned reply.
    async fn canned(&self, id: Uuid) -> StoreResult<CannedReply>;
    /// Deletes one canned reply.
    async fn delete_canned(&self, id: Uuid) -> StoreResult<()>;

    // --- attachments ----------------------------------------------------------------
    /// Records an uploaded file (its bytes are already on disk).
    async fn insert_attachment(&self, attachment: &Attachment) -> StoreResult<()>;
    /// One attachment's record.
    async fn attachment(&self, id: Uuid) -> StoreResult<Attachment>;

    // --- audit -----------------------------------------------------------------------
    /// Records an action taken (or refused) in the retailer's systems.
    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Newest first, optionally for one conversation.
    async fn list_audit(
        &self,
        conversation_id: Option<Uuid>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>>;

    // --- bots and webhooks -------------------------------------------------------------
    /// Creates a bot account; `Conflict` if the name is taken.
    async fn create_bot(&self, bot: &Bot) -> StoreResult<()>;
    /// Finds a bot by the hash of its token and records that it was used.
    async fn bot_by_token(&self, token_hash: &str, now: i64) -> StoreResult<Bot>;
    /// All bots, by name.
    async fn list_bots(&self) -> StoreResult<Vec<Bot>>;
    /// Deletes a bot; its token stops working at once.
    async fn delete_bot(&self, id: Uuid) -> StoreResult<()>;
    /// Records one webhook delivery attempt, keeping only the newest `keep` attempts.
    async fn insert_delivery(&self, d: &WebhookDelivery, keep: i64) -> StoreResult<()>;
    /// The newest delivery attempts, newest first.
    async fn list_deliveries(&self, limit: i64) -> StoreResult<Vec<WebhookDelivery>>;

    /// Cheap liveness probe of the database.
    async fn ping(&self) -> StoreResult<()>;

    /// Flushes and closes the database at shutdown.
    async fn close(&self);
}
