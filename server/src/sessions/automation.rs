//! What plugins and bot accounts may do in a conversation: reply, note, tag, prioritise,
//! route. One code path for in-process plugins and bots over REST.

use uuid::Uuid;

use super::{OpError, Sessions, router::AgentInfo};
use crate::store::{
    AppendResult, Body, ConvState, Conversation, NewMessage, Priority, Role, SenderRole,
    StoredMessage, now_ms,
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
    pub fn check_bot_body(&self, body: &Body) -> Result<(), OpError> {
        let max = self.settings.limits.max_text_bytes;
        match body {
            Body::Text { text } | Body::PrivateNote { text } if text.trim().is_empty() => {
                Err(OpError::invalid("text is empty"))
            }
            Body::Text { text } | Body::PrivateNote { text } if text.len() > max => {
                Err(OpError::new(
                    kefu_proto::v1::ErrorCode::TooLarge,
                    format!("text exceeds {max} bytes"),
                ))
            }
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
        if client_msg_id.is_empty() || client_msg_id.len() > 64 {
            return Err(OpError::invalid("client_msg_id must be 1 to 64 characters"));
        }
        self.check_bot_body(&body)?;
        if conv.state == ConvState::Closed {
            return Err(OpError::new(
                kefu_proto::v1::ErrorCode::Conflict,
                "the conversation is closed",
            ));
        }
        let stored = self
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
        match stored {
            AppendResult::Stored { message, .. } => Ok(message),
            AppendResult::NoConversation => Err(OpError::new(
                kefu_proto::v1::ErrorCode::NotFound,
                "conversation not found",
            )),
        }
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
        Ok(())
    }

    /// Sets the conversation's priority; a waiting one moves up or down its queue.
    pub async fn set_priority(
        &self,
        conv: &mut Conversation,
        priority: Priority,
    ) -> Result<(), OpError> {
        self.store.set_priority(conv.id, priority).await?;
        conv.priority = priority;
        self.router
            .adjust(conv.id, None, None, Some(priority))
            .await;
        Ok(())
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
        if let Some(g) = &group
            && !self.store.list_groups().await?.iter().any(|x| x.name == *g)
        {
            return Err(OpError::invalid(format!("group `{g}` does not exist")));
        }
        match conv.state {
            ConvState::Closed => Err(OpError::new(
                kefu_proto::v1::ErrorCode::Conflict,
                "the conversation is closed",
            )),
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
