//! Domain events: what happened in a conversation, and the one sink the session server
//! emits to without ever waiting.
//!
//! Sessions (the writer, the router and the service-level sweeper) emit; plugins, webhooks
//! and the customer-view prefetch subscribe, each hearing only the kinds it asks for. Nothing here imports the
//! sessions, plugins or webhooks, so none of them depend on each other through events.

use std::{
    hash::{Hash, Hasher},
    sync::Arc,
};

use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::store::StoredMessage;

/// A turn in a conversation's life.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Lifecycle {
    /// A shopper's first message opened it, or a message reopened a recently closed one.
    Opened { reopened: bool },
    /// An agent took it.
    Assigned { agent_id: Uuid, agent_name: String },
    /// It moved to another agent or group.
    Transferred {
        from_agent_id: Uuid,
        to_agent_id: Option<Uuid>,
        to_group: Option<String>,
    },
    /// It was closed (`shopper`, `agent`, `idle`).
    Closed { reason: String },
    /// It was offered to an agent, who has not accepted yet. Heard by the customer-view
    /// prefetch only: plugins and webhooks never received offers and still do not.
    Offered { agent_id: Uuid },
    /// It missed a service-level target (`first_response` or `resolution`), due at
    /// `due_at` (unix ms). Emitted once per conversation and target, by the one node that
    /// recorded the breach (`sessions::service_levels`).
    ServiceLevelBreached { target: String, due_at: i64 },
}

impl Lifecycle {
    /// The webhook event name, e.g. `conversation.assigned`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "conversation.opened",
            Self::Assigned { .. } => "conversation.assigned",
            Self::Transferred { .. } => "conversation.transferred",
            Self::Closed { .. } => "conversation.closed",
            Self::Offered { .. } => "conversation.offered",
            Self::ServiceLevelBreached { .. } => "conversation.sla_breached",
        }
    }
}

/// Something that happened in one conversation.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message was stored (any sender; plugins hear only shoppers' and agents').
    Message(Arc<StoredMessage>),
    Lifecycle {
        conversation_id: Uuid,
        change: Lifecycle,
    },
}

impl Event {
    pub fn conversation_id(&self) -> Uuid {
        match self {
            Self::Message(m) => m.conversation_id,
            Self::Lifecycle {
                conversation_id, ..
            } => *conversation_id,
        }
    }

    /// The webhook event name: `message.created` or `conversation.*`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Message(_) => "message.created",
            Self::Lifecycle { change, .. } => change.name(),
        }
    }
}

/// Where events go: each subscriber (the plugin bus, the webhook sender) has one queue per
/// shard, and a conversation always maps to the same shard, so its events stay in order.
/// Emitting never waits: when a subscriber falls that far behind, the event is dropped for
/// that subscriber and counted (`kefu_events_dropped_total`), and the chat goes on.
#[derive(Clone, Default)]
pub struct EventSink {
    subscribers: Arc<Vec<Subscriber>>,
}

/// One listener: its name (for the metric), which events it hears and its shard queues.
pub struct Subscriber {
    pub name: &'static str,
    pub wants: fn(&Event) -> bool,
    pub shards: Vec<mpsc::Sender<Event>>,
}

impl Event {
    /// What plugins and webhooks hear: every message and every lifecycle turn but offers.
    pub fn is_public(&self) -> bool {
        !matches!(
            self,
            Self::Lifecycle {
                change: Lifecycle::Offered { .. },
                ..
            }
        )
    }

    /// What the customer-view prefetch hears: offers.
    pub fn is_offer(&self) -> bool {
        !self.is_public()
    }
}

impl EventSink {
    /// A sink feeding `subscribers`.
    pub fn new(subscribers: Vec<Subscriber>) -> Self {
        Self {
            subscribers: Arc::new(subscribers),
        }
    }

    pub fn emit(&self, event: Event) {
        let conv = event.conversation_id();
        for Subscriber {
            name,
            wants,
            shards,
        } in self.subscribers.iter()
        {
            if !wants(&event) {
                continue;
            }
            let shard = &shards[shard_of(conv, shards.len())];
            if shard.try_send(event.clone()).is_err() {
                tracing::warn!(subscriber = name, %conv, event = event.name(), "event queue full; dropped");
                metrics::counter!("kefu_events_dropped_total", "subscriber" => *name).increment(1);
            }
        }
    }

    /// A conversation's lifecycle change.
    pub fn lifecycle(&self, conversation_id: Uuid, change: Lifecycle) {
        if !self.subscribers.is_empty() {
            self.emit(Event::Lifecycle {
                conversation_id,
                change,
            });
        }
    }

    /// Whether anyone listens (skips building events nobody reads).
    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }
}

/// Shard queues for one subscriber: `n` senders and their receivers.
pub fn shards(n: usize, depth: usize) -> (Vec<mpsc::Sender<Event>>, Vec<mpsc::Receiver<Event>>) {
    (0..n).map(|_| mpsc::channel(depth)).unzip()
}

fn shard_of(conv: Uuid, n: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    conv.hash(&mut h);
    (h.finish() % n as u64) as usize
}
