//! Agent accounts, the groups they answer for, and their sign-in tokens.

use async_trait::async_trait;
use uuid::Uuid;

use super::{Agent, AgentPatch, Group, NewAgent, StoreResult, TokenRecord};

/// Agents, groups and agent tokens.
#[async_trait]
pub trait Accounts: Send + Sync {
    // --- agents ---------------------------------------------------------------------
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

    // --- groups ---------------------------------------------------------------------
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
}
