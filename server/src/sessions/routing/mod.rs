//! Routing: who is online, who holds what, who waits where, and who is offered what.
//!
//! - `state`: the pure state machine (inputs → state + [`Effect`]s), where every routing
//!   rule lives and is unit- and property-tested.
//! - `pick`: the rule choosing the agent for one waiting conversation.
//! - `shell`: the one task that feeds the state, in order, and performs its effects with
//!   the store, the hub, the writer and the event sink.
//! - this file: the [`Router`] handle other code calls, and [`load_snapshot`], what the
//!   state is rebuilt from at start (and, later, on failover).
//!
//! All routing goes through that single task, so two offers can never race inside one
//! process; the store's `assign_if_unassigned` guard makes double assignment impossible even
//! if they did. Every command is answered after the store agreed.

mod pick;
mod shell;
pub mod state;

use std::{collections::BTreeSet, sync::Arc};

use kefu_proto::v1 as pb;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{hub::Hub, writer::Writer};
use crate::{
    config::RoutingSettings,
    events::EventSink,
    store::{ConvState, Priority, Role, Store, StoreError},
};
use shell::{Cmd, Reply, Shell};
pub use state::{Config, Effect, OpenConversation, Outcome, RoutingState, Snapshot, StoreOp};

/// An agent as routing needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub groups: Vec<String>,
    pub capacity: u32,
}

/// Why a routing request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for RouteError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => RouteError::NotFound("conversation not found".into()),
            other => RouteError::Internal(other.to_string()),
        }
    }
}

impl From<&RoutingSettings> for Config {
    fn from(s: &RoutingSettings) -> Self {
        Self {
            offer_timeout_ms: (s.offer_timeout_secs * 1000) as i64,
            agent_grace_ms: (s.agent_grace_secs * 1000) as i64,
            auto_accept: s.auto_accept,
        }
    }
}

/// Handle to the router task.
#[derive(Clone)]
pub struct Router {
    tx: mpsc::Sender<Cmd>,
}

/// Reads what routing needs from the store: open conversations, oldest first, and the
/// agents holding them (a deleted agent's account still answers, so this fails only
/// when the store does).
pub async fn load_snapshot(
    store: &dyn Store,
    default_capacity: u32,
) -> Result<Snapshot, StoreError> {
    let mut snapshot = Snapshot::default();
    let mut seen = BTreeSet::new();
    for c in store.open_conversations().await? {
        let agent = match (c.state, c.agent_id) {
            (ConvState::Assigned, Some(a)) => Some(a),
            _ => None,
        };
        if let Some(a) = agent
            && seen.insert(a)
        {
            snapshot
                .agents
                .push(info_of(&store.agent(a).await?, default_capacity));
        }
        snapshot.conversations.push(OpenConversation {
            id: c.id,
            group: c.group,
            visitor: c.visitor_id,
            agent,
            priority: c.priority,
        });
    }
    Ok(snapshot)
}

impl Router {
    /// Rebuilds routing state from the store ([`RoutingState::restore`]) and starts the
    /// router task.
    pub async fn spawn(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        writer: Writer,
        cfg: RoutingSettings,
        events: EventSink,
    ) -> anyhow::Result<Self> {
        let snapshot = load_snapshot(store.as_ref(), cfg.default_capacity).await?;
        let state = RoutingState::restore(Config::from(&cfg), snapshot, 0);
        let shell = Shell::new(state, store, hub, writer, events);
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(shell.run(rx));
        Ok(Self { tx })
    }

    async fn send(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd).await;
    }

    async fn ask(&self, make: impl FnOnce(Reply) -> Cmd) -> Result<(), RouteError> {
        let (reply, rx) = oneshot::channel();
        self.send(make(reply)).await;
        rx.await
            .map_err(|_| RouteError::Internal("router stopped".into()))?
    }

    /// An agent socket connected.
    pub async fn agent_up(&self, info: AgentInfo) {
        self.send(Cmd::AgentUp(info)).await
    }
    /// An agent socket closed.
    pub async fn agent_down(&self, agent: Uuid) {
        self.send(Cmd::AgentDown(agent)).await
    }
    /// The agent chose a status (online, away, busy).
    pub async fn set_status(&self, agent: Uuid, status: pb::AgentStatus) {
        self.send(Cmd::SetStatus(agent, status)).await
    }
    /// An admin changed the agent's capacity, groups, name or role: it applies to the next
    /// offers at once, and offers for groups it left go to others. Returns once the routing
    /// state has changed; a no-op for an agent that never connected.
    pub async fn agent_changed(&self, info: AgentInfo) {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::AgentChanged(info, reply)).await;
        let _ = rx.await;
    }
    /// The agent was disabled or deleted: its offers go to others, its conversations back
    /// to their queues at once (as when its grace period runs out), it shows offline and
    /// is offered nothing more. Returns once that is done, so closing its sockets next
    /// cannot race an offer.
    pub async fn agent_removed(&self, agent: Uuid) {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::AgentRemoved(agent, reply)).await;
        let _ = rx.await;
    }
    /// A conversation opened, reopened or was sent back to a queue.
    pub async fn enqueue(
        &self,
        conv: Uuid,
        group: String,
        visitor: Uuid,
        preferred: Option<Uuid>,
        priority: Priority,
    ) {
        self.send(Cmd::Enqueue {
            conv,
            group,
            visitor,
            preferred,
            priority,
        })
        .await
    }
    /// Moves a waiting conversation to `group`, offers it to `preferred` first, or changes
    /// its place by `priority`. False if it is not waiting (e.g. an agent has it).
    pub async fn adjust(
        &self,
        conv: Uuid,
        group: Option<String>,
        preferred: Option<Uuid>,
        priority: Option<Priority>,
    ) -> bool {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Adjust {
            conv,
            group,
            preferred,
            priority,
            reply,
        })
        .await;
        rx.await.unwrap_or(false)
    }
    /// The agent takes a waiting conversation (offered to it, or picked from a queue).
    pub async fn accept(&self, conv: Uuid, agent: Uuid) -> Result<(), RouteError> {
        self.ask(|reply| Cmd::Accept { conv, agent, reply }).await
    }
    /// The agent declines its offer; it moves on to someone else.
    pub async fn decline(&self, conv: Uuid, agent: Uuid) {
        self.send(Cmd::Decline { conv, agent }).await
    }
    /// Moves an assigned conversation to another online agent or to a group's queue.
    pub async fn transfer(
        &self,
        conv: Uuid,
        by: AgentInfo,
        to_agent: Option<Uuid>,
        to_group: Option<String>,
        note: String,
    ) -> Result<(), RouteError> {
        self.ask(|reply| Cmd::Transfer {
            conv,
            by,
            to_agent,
            to_group,
            note,
            reply,
        })
        .await
    }
    /// A conversation closed: free its agent's capacity or its queue place.
    pub async fn release(&self, conv: Uuid) {
        self.send(Cmd::Release(conv)).await
    }
    /// Agents of `group` online now (connected, status online); 0 if the router stopped.
    pub async fn online_in(&self, group: &str) -> u32 {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::OnlineIn {
            group: group.to_string(),
            reply,
        })
        .await;
        rx.await.unwrap_or(0)
    }
    /// The conversation's 1-based place in its queue; `None` unless it waits unoffered.
    pub async fn position(&self, conv: Uuid) -> Option<u32> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Position { conv, reply }).await;
        rx.await.ok().flatten()
    }
}

fn info_of(a: &crate::store::Agent, default_capacity: u32) -> AgentInfo {
    AgentInfo {
        id: a.id,
        name: a.display_name.clone(),
        role: a.role,
        groups: a.groups.clone(),
        capacity: u32::try_from(a.capacity).unwrap_or(default_capacity),
    }
}

/// The routing view of an agent account.
pub fn agent_info(a: &crate::store::Agent) -> AgentInfo {
    info_of(a, 0)
}
