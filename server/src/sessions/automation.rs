//! What plugins and bot accounts may do in a conversation: reply, note, tag, prioritise,
//! route. One code path for in-process plugins and bots over REST.

use kefu_proto::v1 as pb;
use uuid::Uuid;

use super::{
    OpError, Sessions, check_client_msg_id,
    hub::{Outbound, Recipients},
    routing::AgentInfo,
    stored,
};
use crate::{
    store::{
        Body, ConvState, Conversation, NewMessage, Priority, Role, SenderRole, StoredMessage,
        now_ms,
    },
    wire,
};

/// A bot or plugin acting in a conversation.
#[derive(Debug, Clone)]
pub struct Automaton {
    /// The bot account's id (nil for in-process plugins).
    pub id: Uuid,
    /// Shown to shoppers and agents as the sender.
    pub name: String,
}

impl Sessions {
    /// Checks what a bot may send: text and cards to the shopper, notes to agents.
    fn check_bot_body(&self, body: &Body) -> Result<(), OpError> {
        self.check_text(body)?;
        match body {
            Body::Text { .. }
            | Body::PrivateNote { .. }
            | Body::ProductCard { .. }
            | Body::OrderCard { .. }
            | Body::ReturnCard { .. } => Ok(()),
            _ => Err(OpError::forbidden(
                "bots may send text, notes and product, order or return cards",
            )),
        }
    }

    /// Stores a bot's message; the same `client_msg_id` twice stores it once.
    pub async fn bot_send(
        &self,
        by: &Automaton,
        conv: &Conversation,
        client_msg_id: String,
        body: Body,
    ) -> Result<StoredMessage, OpError> {
        check_client_msg_id(&client_msg_id)?;
        self.check_bot_body(&body)?;
        if conv.state == ConvState::Closed {
            return Err(OpError::closed());
        }
        let result = self
            .writer
            .append(NewMessage {
                conversation_id: conv.id,
                client_msg_id,
                sender_role: SenderRole::Bot,
                sender_id: by.id,
                sender_name: by.name.clone(),
                body,
                created_at: now_ms(),
            })
            .await
            .map_err(OpError::internal)?;
        stored(result)
    }

    /// Adds tags (kept once each, in the order added); updates `conv.tags`.
    pub async fn add_tags(&self, conv: &mut Conversation, tags: &[String]) -> Result<(), OpError> {
        if let Some(bad) = tags.iter().find(|t| t.trim().is_empty() || t.len() > 64) {
            return Err(OpError::invalid(format!(
                "tag `{bad}` must be 1 to 64 characters"
            )));
        }
        // Most tags are markers re-added on every message (e.g. `faq-answered`): skip the
        // write when there is nothing new, so plugins add no database work for them.
        if tags.iter().all(|t| conv.tags.contains(t)) {
            return Ok(());
        }
        conv.tags = self.store.add_tags(conv.id, tags).await?;
        self.publish_updated(conv);
        Ok(())
    }

    /// Sets the conversation's priority; a waiting one moves up or down its queue.
    pub async fn set_priority(
        &self,
        conv: &mut Conversation,
        priority: Priority,
    ) -> Result<(), OpError> {
        if conv.priority == priority {
            return Ok(());
        }
        self.store.set_priority(conv.id, priority).await?;
        conv.priority = priority;
        self.router
            .adjust(conv.id, None, None, Some(priority))
            .await;
        self.publish_updated(conv);
        Ok(())
    }

    /// Tells the conversation's agent and supervisors its new labels, so their lists show a
    /// tag or priority the moment it is set. Never the shopper: labels are internal.
    fn publish_updated(&self, conv: &Conversation) {
        let agents: Vec<Uuid> = conv.agent_id.into_iter().collect();
        let mut updated = wire::conversation(conv, pb::Participant::default());
        updated.shopper = None;
        self.hub.publish(
            &Recipients {
                agents: &agents,
                watchers: true,
                ..Default::default()
            },
            Outbound::event(wire::event(
                conv.id,
                pb::conversation_event::Kind::Updated(updated),
            )),
        );
    }

    /// Sends the conversation to `group`'s queue or to `agent`. A waiting conversation is
    /// moved (its pending offer withdrawn); one an agent has is transferred, unless it is
    /// already with that agent or in that group.
    pub async fn route(
        &self,
        by: &Automaton,
        conv: &mut Conversation,
        group: Option<String>,
        agent: Option<Uuid>,
    ) -> Result<(), OpError> {
        if let Some(g) = &group {
            self.require_group(g).await?;
        }
        match conv.state {
            ConvState::Closed => Err(OpError::closed()),
            ConvState::Queued => {
                if self
                    .router
                    .adjust(conv.id, group.clone(), agent, None)
                    .await
                {
                    *conv = self.store.conversation(conv.id).await?;
                }
                Ok(())
            }
            ConvState::Assigned => {
                let same_group = group.as_ref().is_none_or(|g| *g == conv.group);
                let same_agent = agent.is_none() || agent == conv.agent_id;
                if same_group && same_agent {
                    return Ok(());
                }
                // Transfers need someone allowed to make them; automation acts as Kefu.
                let kefu = AgentInfo {
                    id: by.id,
                    name: by.name.clone(),
                    role: Role::Admin,
                    groups: Vec::new(),
                    capacity: 0,
                };
                let to_group = if agent.is_some() { None } else { group };
                self.router
                    .transfer(conv.id, kefu, agent, to_group, String::new())
                    .await?;
                *conv = self.store.conversation(conv.id).await?;
                Ok(())
            }
        }
    }
}
