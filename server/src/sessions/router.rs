//! The router: one task that owns who is online, who holds what, and who waits where.
//!
//! All routing decisions go through this single task, in order, so two offers can never race
//! inside one process; the store's `assign_if_unassigned` guard makes double assignment
//! impossible even if they did. Every command is answered after the store agreed.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use kefu_proto::v1::{self as pb, conversation_event::Kind as Ev};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{
    hub::{Hub, Outbound, Recipients},
    routing::{Candidate, pick_agent},
    writer::Writer,
};
use crate::{
    config::RoutingSettings,
    events::{EventSink, Lifecycle},
    store::{ConvState, NewMessage, Priority, Role, SenderRole, Store, Visitor, now_ms},
    wire,
};

/// An agent as routing needs to know it.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub groups: Vec<String>,
    pub capacity: u32,
}

/// Why a routing request was refused.
#[derive(Debug, thiserror::Error)]
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

impl From<crate::store::StoreError> for RouteError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound => {
                RouteError::NotFound("conversation not found".into())
            }
            other => RouteError::Internal(other.to_string()),
        }
    }
}

type Reply = oneshot::Sender<Result<(), RouteError>>;

enum Cmd {
    AgentUp(AgentInfo),
    AgentChanged(AgentInfo, oneshot::Sender<()>),
    AgentRemoved(Uuid, oneshot::Sender<()>),
    AgentDown(Uuid),
    SetStatus(Uuid, pb::AgentStatus),
    Enqueue {
        conv: Uuid,
        group: String,
        visitor: Uuid,
        preferred: Option<Uuid>,
        priority: Priority,
    },
    /// Changes a waiting conversation's group, preferred agent or priority (automation).
    Adjust {
        conv: Uuid,
        group: Option<String>,
        preferred: Option<Uuid>,
        priority: Option<Priority>,
        reply: oneshot::Sender<bool>,
    },
    Accept {
        conv: Uuid,
        agent: Uuid,
        reply: Reply,
    },
    Decline {
        conv: Uuid,
        agent: Uuid,
    },
    Transfer {
        conv: Uuid,
        by: AgentInfo,
        to_agent: Option<Uuid>,
        to_group: Option<String>,
        note: String,
        reply: Reply,
    },
    Release(Uuid),
    /// How many agents of a group are online now (for the widget's leave-a-message choice).
    OnlineIn {
        group: String,
        reply: oneshot::Sender<u32>,
    },
    /// A waiting conversation's place in its queue (for a shopper who reconnects).
    Position {
        conv: Uuid,
        reply: oneshot::Sender<Option<u32>>,
    },
}

/// Handle to the router task.
#[derive(Clone)]
pub struct Router {
    tx: mpsc::Sender<Cmd>,
}

struct Slot {
    info: AgentInfo,
    conns: u32,
    status: pb::AgentStatus,
    /// Set while disconnected: when the agent's conversations go back to the queue.
    grace_until: Option<Instant>,
    active: HashSet<Uuid>,
    offers: u32,
}

impl Slot {
    fn available(&self) -> bool {
        self.conns > 0 && self.status == pb::AgentStatus::Online
    }
    fn load(&self) -> u32 {
        self.active.len() as u32 + self.offers
    }
}

struct Waiting {
    group: String,
    visitor: Uuid,
    preferred: Option<Uuid>,
    excluded: Vec<Uuid>,
    offer: Option<(Uuid, Instant)>,
    position: u32,
    since: Instant,
    priority: Priority,
}

struct State {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    writer: Writer,
    events: EventSink,
    cfg: RoutingSettings,
    agents: HashMap<Uuid, Slot>,
    queues: HashMap<String, VecDeque<Uuid>>,
    waiting: HashMap<Uuid, Waiting>,
}

impl Router {
    /// Rebuilds routing state from the store and starts the router task.
    pub async fn spawn(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        writer: Writer,
        cfg: RoutingSettings,
        events: EventSink,
    ) -> anyhow::Result<Self> {
        let mut state = State {
            store: store.clone(),
            hub,
            writer,
            events,
            cfg,
            agents: HashMap::new(),
            queues: HashMap::new(),
            waiting: HashMap::new(),
        };
        let grace = Instant::now() + Duration::from_secs(state.cfg.agent_grace_secs);
        for conv in store.open_conversations().await? {
            match (conv.state, conv.agent_id) {
                (ConvState::Assigned, Some(agent_id)) => {
                    if !state.agents.contains_key(&agent_id) {
                        let a = store.agent(agent_id).await?;
                        let mut slot = state.new_slot(info_of(&a, state.cfg.default_capacity));
                        slot.status = pb::AgentStatus::Offline;
                        slot.grace_until = Some(grace);
                        state.agents.insert(agent_id, slot);
                    }
                    state
                        .agents
                        .get_mut(&agent_id)
                        .unwrap()
                        .active
                        .insert(conv.id);
                }
                _ => state.add_waiting(
                    conv.id,
                    conv.group.clone(),
                    conv.visitor_id,
                    None,
                    vec![],
                    conv.priority,
                ),
            }
        }
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(state.run(rx));
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
    /// An admin changed the agent's capacity, groups, name or role: used from now on.
    pub async fn agent_changed(&self, info: AgentInfo) {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::AgentChanged(info, reply)).await;
        let _ = rx.await;
    }
    /// The agent was disabled or deleted: its offers go to others, its conversations back
    /// to their queues, and it is offered nothing more.
    pub async fn agent_removed(&self, agent: Uuid) {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::AgentRemoved(agent, reply)).await;
        let _ = rx.await;
    }
    /// An agent socket closed.
    pub async fn agent_down(&self, agent: Uuid) {
        self.send(Cmd::AgentDown(agent)).await
    }
    pub async fn set_status(&self, agent: Uuid, status: pb::AgentStatus) {
        self.send(Cmd::SetStatus(agent, status)).await
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
    pub async fn accept(&self, conv: Uuid, agent: Uuid) -> Result<(), RouteError> {
        self.ask(|reply| Cmd::Accept { conv, agent, reply }).await
    }
    pub async fn decline(&self, conv: Uuid, agent: Uuid) {
        self.send(Cmd::Decline { conv, agent }).await
    }
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

pub fn agent_info(a: &crate::store::Agent) -> AgentInfo {
    info_of(a, 0)
}

impl State {
    fn new_slot(&self, info: AgentInfo) -> Slot {
        Slot {
            info,
            conns: 0,
            status: pb::AgentStatus::Online,
            grace_until: None,
            active: HashSet::new(),
            offers: 0,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for group in self.queues.keys().cloned().collect::<Vec<_>>() {
            self.dispatch(&group).await;
        }
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd).await,
                    None => break,
                },
                _ = tick.tick() => self.tick().await,
            }
            self.update_gauges();
        }
    }

    async fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::AgentUp(info) => {
                let id = info.id;
                if !self.agents.contains_key(&id) {
                    let slot = self.new_slot(info.clone());
                    self.agents.insert(id, slot);
                }
                let slot = self.agents.get_mut(&id).unwrap();
                slot.info = info;
                slot.conns += 1;
                slot.grace_until = None;
                if slot.status == pb::AgentStatus::Offline {
                    slot.status = pb::AgentStatus::Online;
                }
                let status = slot.status;
                self.presence(id, status);
                self.resend_offers_to(id).await;
                self.dispatch_all().await;
            }
            Cmd::AgentChanged(info, reply) => {
                let id = info.id;
                if let Some(slot) = self.agents.get_mut(&id) {
                    slot.info = info.clone();
                    let left: Vec<Uuid> = self
                        .waiting
                        .iter()
                        .filter(|(_, w)| {
                            w.offer.map(|o| o.0) == Some(id) && !info.groups.contains(&w.group)
                        })
                        .map(|(c, _)| *c)
                        .collect();
                    for conv in left {
                        self.withdraw_offer(conv, true).await;
                    }
                    self.dispatch_all().await;
                }
                let _ = reply.send(());
            }
            Cmd::AgentRemoved(id, reply) => {
                if self.agents.contains_key(&id) {
                    self.withdraw_offers_to(id, true).await;
                    self.release_agent(id).await;
                    self.agents.remove(&id);
                }
                let _ = reply.send(());
            }
            Cmd::AgentDown(id) => {
                let Some(slot) = self.agents.get_mut(&id) else {
                    return;
                };
                slot.conns = slot.conns.saturating_sub(1);
                if slot.conns == 0 {
                    slot.grace_until =
                        Some(Instant::now() + Duration::from_secs(self.cfg.agent_grace_secs));
                    self.withdraw_offers_to(id, false).await;
                }
            }
            Cmd::SetStatus(id, status) => {
                let Some(slot) = self.agents.get_mut(&id) else {
                    return;
                };
                slot.status = status;
                self.presence(id, status);
                if status == pb::AgentStatus::Online {
                    self.dispatch_all().await;
                } else {
                    self.withdraw_offers_to(id, false).await;
                }
            }
            Cmd::Enqueue {
                conv,
                group,
                visitor,
                preferred,
                priority,
            } => {
                self.add_waiting(conv, group.clone(), visitor, preferred, vec![], priority);
                let position = self.queues[&group]
                    .iter()
                    .position(|c| *c == conv)
                    .unwrap_or(0) as u32
                    + 1;
                let agents = self.group_agents(&group);
                let frame = wire::event(
                    conv,
                    Ev::Queued(pb::Queued {
                        group: group.clone(),
                        position,
                    }),
                );
                // The shopper hears its position from `notify_positions` below.
                self.tell_agents(&agents, frame);
                self.dispatch(&group).await;
            }
            Cmd::Adjust {
                conv,
                group,
                preferred,
                priority,
                reply,
            } => {
                let waiting = self.adjust(conv, group, preferred, priority).await;
                let _ = reply.send(waiting);
            }
            Cmd::Accept { conv, agent, reply } => {
                let result = self.accept(conv, agent).await;
                let _ = reply.send(result);
            }
            Cmd::Decline { conv, agent } => {
                if self.waiting.get(&conv).and_then(|w| w.offer).map(|o| o.0) == Some(agent) {
                    self.withdraw_offer(conv, true).await;
                }
            }
            Cmd::Transfer {
                conv,
                by,
                to_agent,
                to_group,
                note,
                reply,
            } => {
                let result = self.transfer(conv, by, to_agent, to_group, note).await;
                let _ = reply.send(result);
            }
            Cmd::Release(conv) => self.release(conv).await,
            Cmd::OnlineIn { group, reply } => {
                let online = self
                    .agents
                    .values()
                    .filter(|s| s.available() && s.info.groups.contains(&group))
                    .count();
                let _ = reply.send(online as u32);
            }
            Cmd::Position { conv, reply } => {
                let position = self
                    .waiting
                    .get(&conv)
                    .filter(|w| w.offer.is_none() && w.position > 0)
                    .map(|w| w.position);
                let _ = reply.send(position);
            }
        }
    }

    fn add_waiting(
        &mut self,
        conv: Uuid,
        group: String,
        visitor: Uuid,
        preferred: Option<Uuid>,
        excluded: Vec<Uuid>,
        priority: Priority,
    ) {
        if self.waiting.contains_key(&conv) {
            return;
        }
        self.insert_queued(&group, conv, priority);
        self.waiting.insert(
            conv,
            Waiting {
                group,
                visitor,
                preferred,
                excluded,
                offer: None,
                position: 0,
                since: Instant::now(),
                priority,
            },
        );
    }

    /// Queues `conv` behind everything of equal or higher priority.
    fn insert_queued(&mut self, group: &str, conv: Uuid, priority: Priority) {
        let waiting = &self.waiting;
        let queue = self.queues.entry(group.to_string()).or_default();
        let at = queue
            .iter()
            .position(|c| waiting.get(c).is_some_and(|w| w.priority < priority))
            .unwrap_or(queue.len());
        queue.insert(at, conv);
    }

    /// See [`Router::adjust`]. A new group or preferred agent withdraws a pending offer; a
    /// new priority only moves the conversation within its queue.
    async fn adjust(
        &mut self,
        conv: Uuid,
        group: Option<String>,
        preferred: Option<Uuid>,
        priority: Option<Priority>,
    ) -> bool {
        let Some(w) = self.waiting.get(&conv) else {
            return false;
        };
        let old_group = w.group.clone();
        let moved = group.as_ref().is_some_and(|g| *g != old_group);
        let redirected = preferred.is_some_and(|p| w.offer.is_some_and(|(a, _)| a != p));
        if moved || redirected {
            let mut w = self.remove_waiting(conv).expect("checked above");
            if let Some((agent, _)) = w.offer.take() {
                self.tell_withdrawn(conv, agent);
            }
            let new_group = group.unwrap_or_else(|| old_group.clone());
            if moved && let Err(e) = self.store.requeue(conv, &new_group, now_ms()).await {
                tracing::error!(%conv, error = %e, "moving a waiting conversation");
            }
            self.add_waiting(
                conv,
                new_group.clone(),
                w.visitor,
                preferred.or(w.preferred),
                w.excluded,
                priority.unwrap_or(w.priority),
            );
            self.waiting.get_mut(&conv).expect("just added").since = w.since;
            let frame = wire::event(
                conv,
                Ev::Queued(pb::Queued {
                    group: new_group.clone(),
                    position: 0,
                }),
            );
            let agents = [self.group_agents(&old_group), self.group_agents(&new_group)].concat();
            self.tell_agents(&agents, frame);
            self.notify_positions(&old_group);
            self.dispatch(&new_group).await;
        } else if let Some(p) = priority
            && p != w.priority
        {
            self.waiting.get_mut(&conv).expect("checked above").priority = p;
            if let Some(q) = self.queues.get_mut(&old_group) {
                q.retain(|c| *c != conv);
            }
            self.insert_queued(&old_group, conv, p);
            self.dispatch(&old_group).await;
        }
        true
    }

    fn remove_waiting(&mut self, conv: Uuid) -> Option<Waiting> {
        let w = self.waiting.remove(&conv)?;
        if let Some(q) = self.queues.get_mut(&w.group) {
            q.retain(|c| *c != conv);
        }
        if let Some((agent, _)) = w.offer
            && let Some(slot) = self.agents.get_mut(&agent)
        {
            slot.offers = slot.offers.saturating_sub(1);
        }
        Some(w)
    }

    /// Sends an event to these agents and to supervisors watching.
    fn tell_agents(&self, agents: &[Uuid], frame: bytes::Bytes) {
        self.hub.publish(
            &Recipients {
                agents,
                watchers: true,
                ..Default::default()
            },
            Outbound::event(frame),
        );
    }

    fn group_agents(&self, group: &str) -> Vec<Uuid> {
        self.agents
            .values()
            .filter(|s| s.info.groups.iter().any(|g| g == group))
            .map(|s| s.info.id)
            .collect()
    }

    fn candidates(&self, group: &str) -> Vec<Candidate> {
        self.agents
            .values()
            .map(|s| Candidate {
                id: s.info.id,
                load: s.load(),
                capacity: s.info.capacity,
                in_group: s.info.groups.iter().any(|g| g == group),
                available: s.available(),
            })
            .collect()
    }

    async fn dispatch_all(&mut self) {
        let groups: Vec<String> = self
            .queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(g, _)| g.clone())
            .collect();
        for g in groups {
            self.dispatch(&g).await;
        }
    }

    /// Offers every waiting conversation of `group` that someone can take, in queue order,
    /// then tells the still-waiting shoppers their positions.
    async fn dispatch(&mut self, group: &str) {
        let convs: Vec<Uuid> = self
            .queues
            .get(group)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default();
        for conv in convs {
            let Some(w) = self.waiting.get_mut(&conv) else {
                continue;
            };
            if w.offer.is_some() {
                continue;
            }
            let (preferred, excluded) = (w.preferred, w.excluded.clone());
            let cands = self.candidates(group);
            let mut pick = pick_agent(&cands, preferred, &excluded);
            if pick.is_none() && !excluded.is_empty() {
                // Everyone who could take it declined once: go round again.
                self.waiting.get_mut(&conv).unwrap().excluded.clear();
                pick = pick_agent(&cands, preferred, &[]);
            }
            match pick {
                Some(agent) => self.offer(conv, agent).await,
                None if preferred.is_none() => break, // nobody free in this group
                None => {}
            }
        }
        self.notify_positions(group);
    }

    /// Tells waiting shoppers their position when it changed. Conversations already offered
    /// to an agent are about to be served and no longer count as ahead of anyone.
    fn notify_positions(&mut self, group: &str) {
        let Some(queue) = self.queues.get(group) else {
            return;
        };
        let mut position = 0;
        for conv in queue {
            let Some(w) = self.waiting.get_mut(conv) else {
                continue;
            };
            if w.offer.is_some() {
                continue;
            }
            position += 1;
            if w.position != position {
                w.position = position;
                let frame = wire::event(
                    *conv,
                    Ev::Queued(pb::Queued {
                        group: group.to_string(),
                        position,
                    }),
                );
                self.hub.publish(
                    &Recipients {
                        visitor: Some(w.visitor),
                        ..Default::default()
                    },
                    Outbound::event(frame),
                );
            }
        }
    }

    async fn offer(&mut self, conv: Uuid, agent: Uuid) {
        let loaded = self.conversation_pb(conv).await;
        if let Err(e) = &loaded {
            tracing::warn!(%conv, error = %e, "loading offered conversation");
        }
        let conversation = loaded.ok().map(|(c, _)| c);
        self.events
            .lifecycle(conv, Lifecycle::Offered { agent_id: agent });
        if self.cfg.auto_accept {
            if let Err(e) = self.assign(conv, agent).await {
                tracing::warn!(%conv, %agent, error = %e, "auto-assign failed");
            }
            return;
        }
        let timeout = Duration::from_secs(self.cfg.offer_timeout_secs);
        let Some(w) = self.waiting.get_mut(&conv) else {
            return;
        };
        w.offer = Some((agent, Instant::now() + timeout));
        if let Some(slot) = self.agents.get_mut(&agent) {
            slot.offers += 1;
        }
        self.tell_offered(conv, agent, conversation, timeout);
    }

    /// Offers still held for `agent` go to its connections again: a desk that reconnected
    /// before the server saw its old socket die would otherwise never hear of them.
    async fn resend_offers_to(&self, agent: Uuid) {
        let held: Vec<(Uuid, Instant)> = self
            .waiting
            .iter()
            .filter_map(|(c, w)| w.offer.filter(|o| o.0 == agent).map(|o| (*c, o.1)))
            .collect();
        for (conv, expires) in held {
            let conversation = self.conversation_pb(conv).await.ok().map(|(c, _)| c);
            let left = expires.saturating_duration_since(Instant::now());
            self.tell_offered(conv, agent, conversation, left);
        }
    }

    fn tell_offered(
        &self,
        conv: Uuid,
        agent: Uuid,
        conversation: Option<pb::Conversation>,
        left: Duration,
    ) {
        let frame = wire::event(
            conv,
            Ev::Offered(pb::Offered {
                agent_id: agent.to_string(),
                expires_at_ms: now_ms() + left.as_millis() as i64,
                conversation,
            }),
        );
        self.hub.publish(
            &Recipients {
                agents: &[agent],
                ..Default::default()
            },
            Outbound::event(frame),
        );
    }

    async fn conversation_pb(
        &self,
        conv: Uuid,
    ) -> Result<(pb::Conversation, Visitor), crate::store::StoreError> {
        let c = self.store.conversation(conv).await?;
        let v = self.store.visitor(c.visitor_id).await?;
        let shopper = wire::participant(SenderRole::Shopper, v.id, &v.display_name);
        Ok((wire::conversation(&c, shopper), v))
    }

    /// Withdraws the pending offer of `conv`; `exclude` keeps it from going straight back.
    async fn withdraw_offer(&mut self, conv: Uuid, exclude: bool) {
        let Some(w) = self.waiting.get_mut(&conv) else {
            return;
        };
        let Some((agent, _)) = w.offer.take() else {
            return;
        };
        if exclude {
            w.excluded.push(agent);
        }
        let group = w.group.clone();
        if let Some(slot) = self.agents.get_mut(&agent) {
            slot.offers = slot.offers.saturating_sub(1);
        }
        self.tell_withdrawn(conv, agent);
        self.dispatch(&group).await;
    }

    /// Tells an agent its offer for `conv` is gone (lapsed, declined, taken or closed).
    fn tell_withdrawn(&self, conv: Uuid, agent: Uuid) {
        let frame = wire::event(
            conv,
            Ev::OfferWithdrawn(pb::OfferWithdrawn {
                agent_id: agent.to_string(),
            }),
        );
        self.hub.publish(
            &Recipients {
                agents: &[agent],
                ..Default::default()
            },
            Outbound::event(frame),
        );
    }

    async fn withdraw_offers_to(&mut self, agent: Uuid, exclude: bool) {
        let convs: Vec<Uuid> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.offer.map(|o| o.0) == Some(agent))
            .map(|(c, _)| *c)
            .collect();
        for conv in convs {
            self.withdraw_offer(conv, exclude).await;
        }
    }

    async fn accept(&mut self, conv: Uuid, agent: Uuid) -> Result<(), RouteError> {
        let w = self.waiting.get(&conv).ok_or_else(|| {
            RouteError::Conflict(
                "this conversation is no longer waiting; another agent may have taken it".into(),
            )
        })?;
        let slot = self
            .agents
            .get(&agent)
            .ok_or_else(|| RouteError::Forbidden("agent is not connected".into()))?;
        let offered_to_me = w.offer.map(|o| o.0) == Some(agent);
        if !offered_to_me {
            let supervisor = slot.info.role >= Role::Supervisor;
            if !supervisor && !slot.info.groups.contains(&w.group) {
                return Err(RouteError::Forbidden(format!(
                    "you are not in group `{}`",
                    w.group
                )));
            }
            if !supervisor && slot.load() >= slot.info.capacity {
                return Err(RouteError::Conflict(
                    "you are at capacity; close a conversation first".into(),
                ));
            }
        }
        let group = w.group.clone();
        self.assign(conv, agent).await?;
        self.dispatch(&group).await;
        Ok(())
    }

    /// Assigns `conv` to `agent` if the store agrees nobody has it, then tells everyone.
    async fn assign(&mut self, conv: Uuid, agent: Uuid) -> Result<(), RouteError> {
        if !self
            .store
            .assign_if_unassigned(conv, agent, now_ms())
            .await?
        {
            self.remove_waiting(conv);
            return Err(RouteError::Conflict(
                "this conversation was already assigned".into(),
            ));
        }
        let w = self
            .remove_waiting(conv)
            .expect("assigned conversations were waiting");
        metrics::histogram!("kefu_queue_wait_seconds").record(w.since.elapsed().as_secs_f64());
        if let Some((offered, _)) = w.offer
            && offered != agent
        {
            self.tell_withdrawn(conv, offered);
        }
        let slot = self.agents.get_mut(&agent).expect("assignee has a slot");
        slot.active.insert(conv);
        let name = slot.info.name.clone();
        let mut to = self.group_agents(&w.group);
        to.push(agent);
        let frame = wire::event(
            conv,
            Ev::Assigned(pb::Assigned {
                agent: Some(wire::participant(SenderRole::Agent, agent, &name)),
            }),
        );
        self.hub.publish(
            &Recipients {
                visitor: Some(w.visitor),
                agents: &to,
                watchers: true,
                except: None,
            },
            Outbound::event(frame),
        );
        self.system_message(conv, "assigned", format!("{name} joined the conversation"))
            .await;
        self.events.lifecycle(
            conv,
            Lifecycle::Assigned {
                agent_id: agent,
                agent_name: name,
            },
        );
        Ok(())
    }

    async fn transfer(
        &mut self,
        conv: Uuid,
        by: AgentInfo,
        to_agent: Option<Uuid>,
        to_group: Option<String>,
        note: String,
    ) -> Result<(), RouteError> {
        let c = self.store.conversation(conv).await?;
        let from = match (c.state, c.agent_id) {
            (ConvState::Assigned, Some(a)) => a,
            _ => {
                return Err(RouteError::Conflict(
                    "only an assigned conversation can be transferred".into(),
                ));
            }
        };
        if from != by.id && by.role < Role::Supervisor {
            return Err(RouteError::Forbidden(
                "only the assigned agent or a supervisor can transfer this".into(),
            ));
        }
        let (event, target_name) = match (to_agent, to_group) {
            (Some(to), None) => {
                if to == from {
                    return Err(RouteError::Conflict(
                        "the conversation is already with that agent".into(),
                    ));
                }
                let target = self.agents.get(&to).filter(|s| s.conns > 0);
                let Some(target) = target else {
                    return Err(RouteError::Conflict("that agent is not online".into()));
                };
                let name = target.info.name.clone();
                if !self.store.reassign(conv, from, to, now_ms()).await? {
                    return Err(RouteError::Conflict(
                        "the conversation changed hands meanwhile; reload".into(),
                    ));
                }
                self.agents.get_mut(&to).unwrap().active.insert(conv);
                (
                    pb::Transferred {
                        from_agent_id: from.to_string(),
                        to_agent_id: to.to_string(),
                        to_group: String::new(),
                        note: note.clone(),
                    },
                    name,
                )
            }
            (None, Some(group)) => {
                if !self
                    .store
                    .list_groups()
                    .await?
                    .iter()
                    .any(|g| g.name == group)
                {
                    return Err(RouteError::NotFound(format!(
                        "group `{group}` does not exist"
                    )));
                }
                self.store.requeue(conv, &group, now_ms()).await?;
                (
                    pb::Transferred {
                        from_agent_id: from.to_string(),
                        to_agent_id: String::new(),
                        to_group: group.clone(),
                        note: note.clone(),
                    },
                    group,
                )
            }
            _ => {
                return Err(RouteError::Conflict(
                    "give exactly one of to_agent_id or to_group".into(),
                ));
            }
        };
        if let Some(slot) = self.agents.get_mut(&from) {
            slot.active.remove(&conv);
        }
        let to_id = to_agent.into_iter().collect::<Vec<_>>();
        let agents = [vec![from], to_id].concat();
        let with_note = wire::event(conv, Ev::Transferred(event.clone()));
        self.hub.publish(
            &Recipients {
                agents: &agents,
                watchers: true,
                ..Default::default()
            },
            Outbound::event(with_note),
        );
        let for_shopper = wire::event(
            conv,
            Ev::Transferred(pb::Transferred {
                note: String::new(),
                ..event.clone()
            }),
        );
        self.hub.publish(
            &Recipients {
                visitor: Some(c.visitor_id),
                ..Default::default()
            },
            Outbound::event(for_shopper),
        );
        if !note.is_empty() {
            self.write(NewMessage {
                conversation_id: conv,
                client_msg_id: format!("transfer-note-{}", Uuid::now_v7()),
                sender_role: SenderRole::Agent,
                sender_id: by.id,
                sender_name: by.name.clone(),
                body: crate::store::Body::PrivateNote { text: note },
                created_at: now_ms(),
            })
            .await;
        }
        self.system_message(conv, "transferred", format!("Transferred to {target_name}"))
            .await;
        self.events.lifecycle(
            conv,
            Lifecycle::Transferred {
                from_agent_id: from,
                to_agent_id: to_agent,
                to_group: (!event.to_group.is_empty()).then(|| event.to_group.clone()),
            },
        );
        if !event.to_group.is_empty() {
            self.add_waiting(
                conv,
                event.to_group.clone(),
                c.visitor_id,
                None,
                vec![from],
                c.priority,
            );
            self.dispatch(&event.to_group).await;
        }
        self.dispatch_all().await;
        Ok(())
    }

    async fn release(&mut self, conv: Uuid) {
        if let Some(w) = self.remove_waiting(conv) {
            if let Some((agent, _)) = w.offer {
                self.tell_withdrawn(conv, agent);
            }
            self.notify_positions(&w.group);
        }
        for slot in self.agents.values_mut() {
            slot.active.remove(&conv);
        }
        self.dispatch_all().await;
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        let lapsed: Vec<Uuid> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.offer.is_some_and(|(_, deadline)| deadline <= now))
            .map(|(c, _)| *c)
            .collect();
        for conv in lapsed {
            self.withdraw_offer(conv, true).await;
        }
        let expired: Vec<Uuid> = self
            .agents
            .values()
            .filter(|s| s.grace_until.is_some_and(|t| t <= now))
            .map(|s| s.info.id)
            .collect();
        for agent in expired {
            self.release_agent(agent).await;
        }
    }

    /// The agent stayed away past the grace period: it goes offline and its conversations
    /// go back to their queues.
    async fn release_agent(&mut self, agent: Uuid) {
        let slot = self.agents.get_mut(&agent).expect("slot exists");
        slot.grace_until = None;
        slot.status = pb::AgentStatus::Offline;
        let convs: Vec<Uuid> = slot.active.drain().collect();
        self.presence(agent, pb::AgentStatus::Offline);
        for conv in convs {
            let Ok(c) = self.store.conversation(conv).await else {
                continue;
            };
            if let Err(e) = self.store.requeue(conv, &c.group, now_ms()).await {
                tracing::error!(%conv, error = %e, "requeue after agent left");
                continue;
            }
            self.system_message(
                conv,
                "agent_left",
                "Your agent was disconnected; connecting you to another agent".into(),
            )
            .await;
            self.add_waiting(
                conv,
                c.group.clone(),
                c.visitor_id,
                None,
                vec![agent],
                c.priority,
            );
        }
        self.dispatch_all().await;
    }

    fn presence(&self, agent: Uuid, status: pb::AgentStatus) {
        let frame = wire::encode(pb::server_envelope::Kind::Presence(pb::Presence {
            agent_id: agent.to_string(),
            status: status as i32,
        }));
        self.hub.publish(
            &Recipients {
                agents: &[agent],
                watchers: true,
                ..Default::default()
            },
            Outbound::event(frame),
        );
    }

    async fn system_message(&self, conv: Uuid, kind: &str, text: String) {
        self.write(NewMessage::system(conv, kind, text)).await;
    }

    async fn write(&self, m: NewMessage) {
        if let Err(e) = self.writer.append(m).await {
            tracing::error!(error = %e, "writing routing activity");
        }
    }

    fn update_gauges(&self) {
        let offered = self.waiting.values().filter(|w| w.offer.is_some()).count();
        let assigned: usize = self.agents.values().map(|s| s.active.len()).sum();
        metrics::gauge!("kefu_conversations", "state" => "queued")
            .set((self.waiting.len() - offered) as f64);
        metrics::gauge!("kefu_conversations", "state" => "offered").set(offered as f64);
        metrics::gauge!("kefu_conversations", "state" => "assigned").set(assigned as f64);
        for (group, q) in &self.queues {
            metrics::gauge!("kefu_queue_length", "group" => group.clone()).set(q.len() as f64);
        }
    }
}
