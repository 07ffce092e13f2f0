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

pub mod nodes;
mod pick;
mod shell;
pub mod state;

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
};

use kefu_proto::v1 as pb;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{hub::Hub, writer::Writer};
use crate::{
    config::RoutingSettings,
    events::EventSink,
    store::{ConvState, Priority, Role, Store, StoreError},
};
use nodes::{AgentPresence, NodePresence};
use shell::Shell;
pub(crate) use shell::{Cmd, Request, Response, transfer_activity};
pub use state::{
    AgentLoad, Config, Effect, OpenConversation, Outcome, RoutingState, Snapshot, StoreOp,
};

/// An agent as routing needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentInfo {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub groups: Vec<String>,
    pub capacity: u32,
}

/// Why a routing request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
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

/// Handle to the router task: in this process, or in cluster mode wherever the router runs
/// (commands then go to a forwarder that carries them over NATS).
#[derive(Clone)]
pub struct Router {
    tx: mpsc::Sender<Cmd>,
    /// Cluster mode: this node's agent sockets, which it reports instead of each socket
    /// opening and closing (see [`nodes`]).
    presence: Option<Arc<LocalPresence>>,
}

/// The agent sockets this node holds, with the status each agent chose.
struct LocalPresence {
    node: String,
    agents: Mutex<HashMap<Uuid, AgentPresence>>,
}

impl LocalPresence {
    /// Changes one agent's entry and returns the report saying so.
    fn change(&self, agent: Uuid, f: impl FnOnce(&mut AgentPresence)) -> Option<NodePresence> {
        let mut agents = self.agents.lock().unwrap();
        let entry = agents.get_mut(&agent)?;
        f(entry);
        let now = entry.clone();
        if now.sockets == 0 {
            agents.remove(&agent);
        }
        Some(self.one(now))
    }

    /// A report of one agent's entry.
    fn one(&self, entry: AgentPresence) -> NodePresence {
        NodePresence {
            node: self.node.clone(),
            full: false,
            agents: vec![entry],
        }
    }

    fn all(&self) -> NodePresence {
        NodePresence {
            node: self.node.clone(),
            full: true,
            agents: self.agents.lock().unwrap().values().cloned().collect(),
        }
    }
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
        Ok(Self { tx, presence: None })
    }

    /// A handle whose commands go to `tx` (a forwarder to the cluster's router), reporting
    /// the agent sockets of `node`.
    pub(crate) fn forwarding(tx: mpsc::Sender<Cmd>, node: String) -> Self {
        let presence = LocalPresence {
            node,
            agents: Mutex::default(),
        };
        Self {
            tx,
            presence: Some(Arc::new(presence)),
        }
    }

    async fn send(&self, req: Request) {
        let _ = self.tx.send(Cmd { req, reply: None }).await;
    }

    /// Queues `req` and returns where its answer will come; `None` if the router is gone.
    pub(crate) async fn submit(&self, req: Request) -> Option<oneshot::Receiver<Response>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd {
            req,
            reply: Some(reply),
        };
        self.tx.send(cmd).await.ok()?;
        Some(rx)
    }

    /// Sends `req` and waits for the answer; `None` if the router is gone.
    async fn request(&self, req: Request) -> Option<Response> {
        self.submit(req).await?.await.ok()
    }

    async fn ask(&self, req: Request) -> Result<(), RouteError> {
        match self.request(req).await {
            Some(Response::Routed(result)) => result,
            _ => Err(RouteError::Internal("routing is unavailable".into())),
        }
    }

    /// Cluster mode: reports all of this node's agent sockets (every
    /// [`nodes::REPORT_EVERY_MS`], so a new router knows them all within a second).
    pub async fn report_presence(&self) {
        if let Some(p) = &self.presence {
            self.send(Request::Presence(p.all())).await
        }
    }

    /// An agent socket connected.
    pub async fn agent_up(&self, info: AgentInfo) {
        let Some(p) = &self.presence else {
            return self.send(Request::AgentUp(info)).await;
        };
        let report = {
            let mut agents = p.agents.lock().unwrap();
            let entry = agents.entry(info.id).or_insert_with(|| AgentPresence {
                info: info.clone(),
                sockets: 0,
                status: pb::AgentStatus::Online as i32,
            });
            entry.info = info;
            entry.sockets += 1;
            p.one(entry.clone())
        };
        self.send(Request::Presence(report)).await
    }
    /// An agent socket closed.
    pub async fn agent_down(&self, agent: Uuid) {
        let Some(p) = &self.presence else {
            return self.send(Request::AgentDown(agent)).await;
        };
        if let Some(report) = p.change(agent, |a| a.sockets = a.sockets.saturating_sub(1)) {
            self.send(Request::Presence(report)).await
        }
    }
    /// The agent chose a status (online, away, busy).
    pub async fn set_status(&self, agent: Uuid, status: pb::AgentStatus) {
        let Some(p) = &self.presence else {
            return self.send(Request::SetStatus(agent, status as i32)).await;
        };
        if let Some(report) = p.change(agent, |a| a.status = status as i32) {
            self.send(Request::Presence(report)).await
        }
    }
    /// An admin changed the agent's capacity, groups, name or role: it applies to the next
    /// offers at once, and offers for groups it left go to others. Returns once the routing
    /// state has changed; a no-op for an agent that never connected.
    pub async fn agent_changed(&self, info: AgentInfo) {
        if let Some(p) = &self.presence
            && let Some(a) = p.agents.lock().unwrap().get_mut(&info.id)
        {
            a.info = info.clone();
        }
        self.request(Request::AgentChanged(info)).await;
    }
    /// The agent was disabled or deleted: its offers go to others, its conversations back
    /// to their queues at once (as when its grace period runs out), it shows offline and
    /// is offered nothing more. Returns once that is done, so closing its sockets next
    /// cannot race an offer.
    pub async fn agent_removed(&self, agent: Uuid) {
        self.request(Request::AgentRemoved(agent)).await;
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
        self.send(Request::Enqueue {
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
        let req = Request::Adjust {
            conv,
            group,
            preferred,
            priority,
        };
        matches!(self.request(req).await, Some(Response::Waiting(true)))
    }
    /// The agent takes a waiting conversation (offered to it, or picked from a queue).
    pub async fn accept(&self, conv: Uuid, agent: Uuid) -> Result<(), RouteError> {
        self.ask(Request::Accept { conv, agent }).await
    }
    /// The agent declines its offer; it moves on to someone else.
    pub async fn decline(&self, conv: Uuid, agent: Uuid) {
        self.send(Request::Decline { conv, agent }).await
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
        self.ask(Request::Transfer {
            conv,
            by,
            to_agent,
            to_group,
            note,
        })
        .await
    }
    /// A conversation closed: free its agent's capacity or its queue place.
    pub async fn release(&self, conv: Uuid) {
        self.send(Request::Release(conv)).await
    }
    /// Agents of `group` online now (connected, status online); 0 if the router stopped.
    pub async fn online_in(&self, group: &str) -> u32 {
        match self.request(Request::OnlineIn(group.to_string())).await {
            Some(Response::Online(n)) => n,
            _ => 0,
        }
    }
    /// The conversation's 1-based place in its queue; `None` unless it waits unoffered.
    pub async fn position(&self, conv: Uuid) -> Option<u32> {
        match self.request(Request::Position(conv)).await {
            Some(Response::Position(p)) => p,
            _ => None,
        }
    }
    /// A supervisor sets the agent's status, at the router itself (in a cluster the
    /// supervisor's node may hold none of the agent's sockets); refused while the agent is
    /// not connected. The nodes holding its sockets learn it from the `Presence` frame
    /// their sockets deliver ([`Self::status_seen`]).
    pub async fn impose_status(
        &self,
        agent: Uuid,
        status: pb::AgentStatus,
    ) -> Result<(), RouteError> {
        self.ask(Request::ImposeStatus(agent, status as i32)).await
    }
    /// Cluster mode: an agent socket here delivered its own status (a supervisor set it):
    /// this node adopts and reports it, so the router's record of what the node says
    /// agrees with the router's state and the agent's next change is seen as one. A status
    /// the node has already is not reported again, which ends the exchange.
    pub async fn status_seen(&self, agent: Uuid, status: i32) {
        let Some(p) = &self.presence else { return };
        let report = match p.agents.lock().unwrap().get_mut(&agent) {
            Some(a) if a.status != status => {
                a.status = status;
                Some(p.one(a.clone()))
            }
            _ => None,
        };
        if let Some(report) = report {
            self.send(Request::Presence(report)).await
        }
    }
    /// Whether the agent has a socket open anywhere; false if the router is gone.
    pub async fn connected(&self, agent: Uuid) -> bool {
        matches!(
            self.request(Request::Connected(agent)).await,
            Some(Response::Connected(true))
        )
    }
    /// Every agent routing knows, with presence and load; `None` if the router is gone.
    pub async fn loads(&self) -> Option<Vec<AgentLoad>> {
        match self.request(Request::Loads).await {
            Some(Response::Loads(loads)) => Some(loads),
            _ => None,
        }
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
