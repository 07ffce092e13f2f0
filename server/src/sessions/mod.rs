//! Conversations as a service: what shoppers and agents may do, independent of transport.
//!
//! The gateway decodes frames and calls [`Sessions`]; nothing here knows about HTTP or
//! WebSockets, and nothing knows about SQL beyond the `Store` trait. Its fields are
//! private: every change to a conversation, a queue or a live connection goes through a
//! method here, so the effects on routing, live sockets and events cannot be forgotten.
//!
//! - `messages`: send (ack after commit), history, typing, read receipts.
//! - `lifecycle`: open, reopen, close, the idle sweeper.
//! - `connections`: sockets joining and leaving, agents' routing requests, and account
//!   changes reaching live connections.
//! - `records`: lists, the shopper behind a conversation, attachments, ratings.
//! - `automation`: what plugins and bots do (tag, prioritise, route, send as a bot).
//! - `floor`: the supervisors' live floor, pushed to their sockets, and their actions.
//! - `cards`: what a product, order or return card may carry (capped fields, http(s) links).
//! - `hub`: live connections and non-blocking fan-out.
//! - `writer`: the batching message writer (acks after commit, publishes in order).
//! - `routing`: queues, offers, capacity and presence: a pure state machine and the task
//!   that performs its effects.
//! - `service_levels`: first-response and resolution targets; the sweeper that records and
//!   announces breaches.

pub mod automation;
mod cards;
mod connections;
pub mod floor;
pub mod hub;
mod lifecycle;
mod messages;
mod records;
pub mod routing;
pub mod service_levels;
pub mod writer;

use std::{sync::Arc, time::Duration};

use kefu_proto::v1 as pb;
use uuid::Uuid;

use crate::{
    cluster::{Cluster, RouterDeps},
    config::Settings,
    events::EventSink,
    store::{
        AppendResult, ConvState, Conversation, Role, SenderRole, Store, StoreError, StoredMessage,
        Visitor,
    },
    wire,
};
use hub::{ConnId, Hub, Outbound, Recipients};
pub use routing::{AgentInfo, agent_info};
use routing::{RouteError, Router};
use writer::Writer;

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Caller {
    Shopper(Visitor),
    Agent(AgentInfo),
}

/// A refused or failed operation, with the wire error code the client branches on.
#[derive(Debug, Clone)]
pub struct OpError {
    pub code: pb::ErrorCode,
    pub message: String,
    /// With `RATE_LIMITED`: when trying again can succeed (`None`: unknown, or never at
    /// this size).
    pub retry_after: Option<Duration>,
}

/// Whether a shopper may open (or reopen) a conversation now: the gateway's abuse limits
/// for that shopper and its address. Asked only when one would be opened, never for a
/// message into the open conversation or for a resend.
pub type Admission<'a> = &'a (dyn Fn() -> Result<(), OpError> + Sync);

impl OpError {
    pub fn new(code: pb::ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            retry_after,
            ..Self::new(pb::ErrorCode::RateLimited, message)
        }
    }
    fn forbidden(m: &str) -> Self {
        Self::new(pb::ErrorCode::Forbidden, m)
    }
    pub(crate) fn invalid(m: impl Into<String>) -> Self {
        Self::new(pb::ErrorCode::InvalidArgument, m)
    }
    fn closed() -> Self {
        Self::new(pb::ErrorCode::Conflict, "the conversation is closed")
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "session operation failed");
        Self::new(pb::ErrorCode::Internal, "internal error; retry later")
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::new(pb::ErrorCode::NotFound, "not found"),
            StoreError::Conflict(m) => Self::new(pb::ErrorCode::Conflict, m),
            other => Self::internal(other),
        }
    }
}

impl From<RouteError> for OpError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::Conflict(m) => Self::new(pb::ErrorCode::Conflict, m),
            RouteError::Forbidden(m) => Self::new(pb::ErrorCode::Forbidden, m),
            RouteError::NotFound(m) => Self::new(pb::ErrorCode::NotFound, m),
            RouteError::Internal(m) => Self::internal(m),
        }
    }
}

/// The session service shared by every connection and REST handler.
pub struct Sessions {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    writer: Writer,
    router: Router,
    settings: Arc<Settings>,
    /// Plugins, webhooks and the prefetch hear what happens here.
    events: EventSink,
    /// Serialises "find or open the shopper's conversation" so two tabs sending their first
    /// message at once do not open two conversations.
    open_lock: tokio::sync::Mutex<()>,
    /// Cluster mode: this node's place in it.
    cluster: Option<Arc<Cluster>>,
}

impl Sessions {
    /// Starts the writer and router (rebuilding routing state from the store) and the
    /// background sweepers for heartbeats and idle conversations. In cluster mode the hub
    /// is joined to the other nodes and the router runs on whichever node holds its lease.
    pub async fn start(
        store: Arc<dyn Store>,
        settings: Arc<Settings>,
        events: EventSink,
        cluster: Option<Arc<Cluster>>,
    ) -> anyhow::Result<Arc<Self>> {
        let hub = Arc::new(Hub::default());
        if let Some(c) = &cluster {
            c.fanout(&hub);
            c.watch(Arc::downgrade(&hub));
        }
        let writer = Writer::spawn(store.clone(), hub.clone(), events.clone());
        let router = match &cluster {
            Some(c) => c.start_routing(RouterDeps {
                store: store.clone(),
                hub: hub.clone(),
                writer: writer.clone(),
                cfg: settings.routing.clone(),
                events: events.clone(),
            }),
            None => {
                Router::spawn(
                    store.clone(),
                    hub.clone(),
                    writer.clone(),
                    settings.routing.clone(),
                    events.clone(),
                )
                .await?
            }
        };
        let sessions = Arc::new(Self {
            store,
            hub,
            writer,
            router,
            settings,
            events,
            open_lock: Default::default(),
            cluster,
        });
        tokio::spawn(connections::heartbeat_sweeper(Arc::downgrade(&sessions)));
        tokio::spawn(floor::push_floor(Arc::downgrade(&sessions)));
        if sessions.settings.routing.idle_close_secs > 0 {
            tokio::spawn(lifecycle::idle_sweeper(Arc::downgrade(&sessions)));
        }
        service_levels::spawn(&sessions);
        Ok(sessions)
    }

    /// Checks that `caller` may see (or, with `write`, act in) a conversation.
    pub async fn authorize(
        &self,
        caller: &Caller,
        conv: Uuid,
        write: bool,
    ) -> Result<Conversation, OpError> {
        let c = match self.store.conversation(conv).await {
            Err(StoreError::NotFound) if matches!(caller, Caller::Shopper(_)) => {
                return Err(OpError::forbidden("not your conversation"));
            }
            other => other?,
        };
        let allowed = match caller {
            Caller::Shopper(v) => c.visitor_id == v.id,
            Caller::Agent(a) if a.role >= Role::Supervisor => true,
            Caller::Agent(a) => {
                c.agent_id == Some(a.id)
                    || (!write && c.state == ConvState::Queued && a.groups.contains(&c.group))
            }
        };
        if allowed {
            Ok(c)
        } else {
            Err(OpError::forbidden("you may not access this conversation"))
        }
    }

    /// In cluster mode, refuses work while this node is cut off from NATS: what it stored
    /// could reach nobody on the other nodes, and its clients should move to one that can.
    fn check_cluster(&self) -> Result<(), OpError> {
        match &self.cluster {
            Some(c) if !c.is_ready() => Err(OpError::new(
                pb::ErrorCode::Internal,
                "this node is cut off from the cluster; reconnect to another",
            )),
            _ => Ok(()),
        }
    }

    /// Whether this node does the cluster-wide chores (closing idle conversations): always
    /// on its own, in a cluster only while it runs the router.
    fn does_chores(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.is_leading())
    }

    /// Why this node should take no traffic now (a load balancer's readiness probe), if so.
    pub async fn not_ready(&self) -> Option<&'static str> {
        if self.check_cluster().is_err() {
            return Some("cut off from the cluster (NATS)");
        }
        match self.store.ping().await {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                Some("database unavailable")
            }
        }
    }

    /// Sends a frame to everyone who may see a conversation.
    fn publish_conv(&self, c: &Conversation, except: Option<ConnId>, frame: bytes::Bytes) {
        let agents: Vec<Uuid> = c.agent_id.into_iter().collect();
        self.hub.publish(
            &Recipients {
                visitor: Some(c.visitor_id),
                agents: &agents,
                watchers: true,
                except,
            },
            Outbound::event(frame),
        );
    }
}

/// Which way a history page goes.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// Messages with a higher seq (catching up), oldest first.
    After(i64),
    /// Messages with a lower seq (scrolling back), oldest first.
    Before(i64),
}

/// Checks a sender's idempotency key.
fn check_client_msg_id(id: &str) -> Result<(), OpError> {
    if id.is_empty() || id.len() > 64 {
        return Err(OpError::invalid("client_msg_id must be 1 to 64 characters"));
    }
    Ok(())
}

/// The message the writer stored, or why it could not.
fn stored(result: AppendResult) -> Result<StoredMessage, OpError> {
    match result {
        AppendResult::Stored { message, .. } => Ok(message),
        AppendResult::NoConversation => Err(OpError::new(
            pb::ErrorCode::NotFound,
            "conversation not found",
        )),
    }
}

/// Parses a conversation id from the wire.
pub fn parse_id(s: &str) -> Result<Uuid, OpError> {
    Uuid::parse_str(s).map_err(|_| OpError::invalid("conversation_id is not a UUID"))
}

fn who(caller: &Caller) -> pb::Participant {
    match caller {
        Caller::Shopper(v) => wire::participant(SenderRole::Shopper, v.id, &v.display_name),
        Caller::Agent(a) => wire::participant(SenderRole::Agent, a.id, &a.name),
    }
}
