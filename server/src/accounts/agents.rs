//! Agent accounts and groups. Changing an agent takes effect on its live connections at
//! once: disabled or deleted, it is taken out of routing (offers withdrawn and re-routed,
//! conversations re-queued) and its sockets are closed; new groups or a new role close its
//! sockets so they reconnect with the new rights; a new capacity or name reaches routing
//! without a reconnect.

use kefu_proto::v1::GoAwayCode;
use uuid::Uuid;

use super::Accounts;
use crate::{
    sessions::{OpError, agent_info},
    store::{Agent, AgentPatch, Group, NewAgent},
};

impl Accounts {
    /// All agents, by username.
    pub async fn agents(&self) -> Result<Vec<Agent>, OpError> {
        Ok(self.store.list_agents().await?)
    }

    /// One agent.
    pub async fn agent(&self, id: Uuid) -> Result<Agent, OpError> {
        Ok(self.store.agent(id).await?)
    }

    /// Creates an agent; `Conflict` if the username is taken.
    pub async fn create_agent(&self, agent: &NewAgent) -> Result<Agent, OpError> {
        Ok(self.store.create_agent(agent).await?)
    }

    /// Applies `patch` and makes it true on the agent's live connections before returning.
    pub async fn update_agent(&self, id: Uuid, patch: &AgentPatch) -> Result<Agent, OpError> {
        let before = self.store.agent(id).await?;
        let after = self.store.update_agent(id, patch).await?;
        if after.disabled {
            self.sessions
                .agent_removed(id, GoAwayCode::AccountDisabled)
                .await;
        } else if patch.password_hash.is_some() {
            // The store revoked every token of the agent with the old password.
            self.sessions.agent_signed_out(id, None);
        } else if after.role != before.role || after.groups != before.groups {
            // What the sockets may see changed: they reconnect and authenticate afresh.
            self.sessions.agent_changed(agent_info(&after)).await;
            self.sessions
                .disconnect_agent(id, GoAwayCode::AccountChanged);
        } else if after.capacity != before.capacity || after.display_name != before.display_name {
            self.sessions.agent_changed(agent_info(&after)).await;
        }
        Ok(after)
    }

    /// Deletes an agent (the store keeps one with conversations, disabled) and closes its
    /// sockets.
    pub async fn delete_agent(&self, id: Uuid) -> Result<(), OpError> {
        self.store.delete_agent(id).await?;
        self.sessions
            .agent_removed(id, GoAwayCode::AccountDisabled)
            .await;
        Ok(())
    }

    /// All groups with their members.
    pub async fn groups(&self) -> Result<Vec<Group>, OpError> {
        Ok(self.store.list_groups().await?)
    }

    /// Creates a group; `Conflict` if the name is taken.
    pub async fn create_group(&self, group: &Group) -> Result<Group, OpError> {
        Ok(self.store.create_group(group).await?)
    }

    /// Deletes a group (its members stay).
    pub async fn delete_group(&self, name: &str) -> Result<(), OpError> {
        Ok(self.store.delete_group(name).await?)
    }
}
