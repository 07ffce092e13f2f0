//! What a plugin sees of a conversation, and the actions it asks Kefu to take.

use std::sync::Arc;

use uuid::Uuid;

use crate::{
    integrations::{
        CustomerKey,
        identity::Claim,
        view::{CustomerView, Views},
    },
    store::{Body, Conversation, Priority, Store, StoredMessage, Visitor},
};

/// Something a plugin asked for. Applied in order after the plugin returns; dropped if it
/// errored, panicked or overran.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A message to the shopper, sent as the plugin (a bot).
    Reply(Body),
    /// A private note only agents see (e.g. why a conversation was escalated).
    Note(String),
    Tag(String),
    SetPriority(Priority),
    /// Move to another group's queue (or, if an agent has it, transfer it there).
    RouteToGroup(String),
    /// Offer to this agent first (or, if another agent has it, transfer it).
    RouteToAgent(Uuid),
}

/// What Kefu lends plugins to look things up.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub views: Arc<Views>,
}

/// One plugin call's view of its conversation, and the actions it collects.
pub struct Context {
    /// The conversation as of this event, including changes earlier plugins made.
    pub conversation: Conversation,
    /// The shopper.
    pub visitor: Visitor,
    services: Arc<Services>,
    actions: Vec<Action>,
    stopped: bool,
}

impl Context {
    pub fn new(conversation: Conversation, visitor: Visitor, services: Arc<Services>) -> Self {
        Self {
            conversation,
            visitor,
            services,
            actions: Vec::new(),
            stopped: false,
        }
    }

    /// Replies to the shopper with text.
    pub fn reply(&mut self, text: impl Into<String>) {
        self.actions
            .push(Action::Reply(Body::Text { text: text.into() }));
    }

    /// Replies to the shopper with any body a bot may send (text or a card).
    pub fn reply_with(&mut self, body: Body) {
        self.actions.push(Action::Reply(body));
    }

    /// Leaves a private note for agents.
    pub fn note(&mut self, text: impl Into<String>) {
        self.actions.push(Action::Note(text.into()));
    }

    pub fn tag(&mut self, tag: impl Into<String>) {
        self.actions.push(Action::Tag(tag.into()));
    }

    pub fn set_priority(&mut self, priority: Priority) {
        self.actions.push(Action::SetPriority(priority));
    }

    pub fn route_to_group(&mut self, group: impl Into<String>) {
        self.actions.push(Action::RouteToGroup(group.into()));
    }

    pub fn route_to_agent(&mut self, agent: Uuid) {
        self.actions.push(Action::RouteToAgent(agent));
    }

    /// Plugins after this one do not hear this event.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether the conversation carries `tag` (including tags added earlier in this call).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.conversation.tags.iter().any(|t| t == tag)
            || self.actions.contains(&Action::Tag(tag.to_string()))
    }

    /// The shopper's customer view from the retailer's back office (cached), or `None`
    /// unless the shopper is a verified customer: an e-mail or phone they merely typed must
    /// not let a plugin reveal someone else's purchases.
    pub async fn customer_view(&self) -> Option<CustomerView> {
        let id = Claim::of(&self.visitor).verified_id()?.to_string();
        Some(self.services.views.view(CustomerKey::Id(id)).await)
    }

    /// The newest `limit` messages, oldest first, private notes included.
    pub async fn recent_messages(&self, limit: i64) -> anyhow::Result<Vec<StoredMessage>> {
        let c = &self.conversation;
        Ok(self
            .services
            .store
            .messages_before(c.id, c.last_seq + 1, limit, true)
            .await?)
    }

    /// The actions collected so far, in order.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    pub(crate) fn into_outcome(self) -> (Vec<Action>, bool) {
        (self.actions, self.stopped)
    }
}
