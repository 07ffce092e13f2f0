//! The router task: receives commands in order, feeds them to the [`RoutingState`] and
//! performs the effects with the store, the hub, the writer and the event sink; publishes
//! the routing gauges.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use kefu_proto::v1::{self as pb, conversation_event::Kind as Ev};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{
    AgentInfo, RouteError,
    nodes::{NodeBook, NodePresence, PresenceChange},
    state::{AgentLoad, Effect, Outcome, RoutingState, StoreOp, Target, TransferTo},
};
use crate::{
    events::{EventSink, Lifecycle},
    sessions::{
        hub::{Hub, Outbound, Recipients},
        writer::Writer,
    },
    store::{Body, NewMessage, Priority, SenderRole, Store, StoreError, now_ms},
    wire,
};

/// A request to the router. Serialisable: in cluster mode it travels over NATS from the
/// node that received it to the node running the router.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Request {
    AgentUp(AgentInfo),
    AgentDown(Uuid),
    /// A `pb::AgentStatus`.
    SetStatus(Uuid, i32),
    AgentChanged(AgentInfo),
    AgentRemoved(Uuid),
    Enqueue {
        conv: Uuid,
        group: String,
        visitor: Uuid,
        preferred: Option<Uuid>,
        priority: Priority,
    },
    Adjust {
        conv: Uuid,
        group: Option<String>,
        preferred: Option<Uuid>,
        priority: Option<Priority>,
    },
    Accept {
        conv: Uuid,
        agent: Uuid,
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
    },
    Release(Uuid),
    OnlineIn(String),
    Position(Uuid),
    /// A supervisor sets an agent's status (a `pb::AgentStatus`), as if the agent had.
    ImposeStatus(Uuid, i32),
    /// Whether the agent has a socket open anywhere.
    Connected(Uuid),
    /// Every agent's presence and load, for the supervisors' floor.
    Loads,
    /// Cluster mode: the agent sockets a node holds (all of them, or those that changed).
    Presence(NodePresence),
}

/// The router's answer to a [`Request`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Response {
    Done,
    Routed(Result<(), RouteError>),
    Waiting(bool),
    Online(u32),
    Position(Option<u32>),
    Connected(bool),
    Loads(Vec<AgentLoad>),
}

/// A request with, if its sender waits, where the answer goes.
pub(crate) struct Cmd {
    pub req: Request,
    pub reply: Option<oneshot::Sender<Response>>,
}

/// The router task: the state, and what performs its effects.
pub(super) struct Shell {
    state: RoutingState,
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    writer: Writer,
    events: EventSink,
    /// Cluster mode: the agent sockets each node reports.
    nodes: NodeBook,
    /// Zero of the state's clock (the state was restored at 0).
    start: Instant,
}

impl Shell {
    pub(super) fn new(
        state: RoutingState,
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        writer: Writer,
        events: EventSink,
    ) -> Self {
        Self {
            state,
            store,
            hub,
            writer,
            events,
            nodes: NodeBook::default(),
            start: Instant::now(),
        }
    }

    fn now(&self) -> i64 {
        self.start.elapsed().as_millis() as i64
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let fx = self.state.kick(self.now());
        self.perform(fx).await;
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd).await,
                    None => break,
                },
                _ = tick.tick() => {
                    let now = self.now();
                    for change in self.nodes.expire(now) {
                        self.apply_presence(change, now).await;
                    }
                    let fx = self.state.tick(now);
                    self.perform(fx).await;
                }
            }
            self.update_gauges();
        }
    }

    async fn handle(&mut self, cmd: Cmd) {
        let answer = self.answer_to(cmd.req).await;
        if let Some(reply) = cmd.reply {
            let _ = reply.send(answer);
        }
    }

    async fn answer_to(&mut self, req: Request) -> Response {
        let now = self.now();
        let fx = match req {
            Request::AgentUp(info) => self.state.agent_up(info, now),
            Request::AgentDown(id) => {
                let was_up = self.state.connected(id);
                let fx = self.state.agent_down(id, now);
                self.perform(fx).await;
                self.tell_if_gone(id, was_up);
                return Response::Done;
            }
            Request::SetStatus(id, status) => {
                let status = pb::AgentStatus::try_from(status).unwrap_or(pb::AgentStatus::Online);
                self.state.set_status(id, status, now)
            }
            Request::AgentChanged(info) => self.state.agent_changed(info, now),
            Request::AgentRemoved(id) => self.state.agent_removed(id, now),
            Request::Enqueue {
                conv,
                group,
                visitor,
                preferred,
                priority,
            } => self
                .state
                .enqueue(conv, group, visitor, preferred, priority, now),
            Request::Adjust {
                conv,
                group,
                preferred,
                priority,
            } => {
                let (waiting, fx) = self.state.adjust(conv, group, preferred, priority, now);
                self.perform(fx).await;
                return Response::Waiting(waiting);
            }
            Request::Accept { conv, agent } => {
                let fx = self.state.accept(conv, agent, now);
                return Response::Routed(self.answer(fx).await);
            }
            Request::Decline { conv, agent } => self.state.decline(conv, agent, now),
            Request::Transfer {
                conv,
                by,
                to_agent,
                to_group,
                note,
            } => {
                let result = self.transfer(conv, by, to_agent, to_group, note).await;
                return Response::Routed(result);
            }
            Request::Release(conv) => self.state.release(conv, now),
            Request::OnlineIn(group) => return Response::Online(self.state.online_in(&group)),
            Request::Position(conv) => return Response::Position(self.state.position(conv)),
            Request::ImposeStatus(id, status) => {
                if !self.state.connected(id) {
                    return Response::Routed(Err(RouteError::Conflict(
                        "the agent is not connected: it shows offline already".into(),
                    )));
                }
                let status = pb::AgentStatus::try_from(status).unwrap_or(pb::AgentStatus::Online);
                let fx = self.state.set_status(id, status, now);
                self.perform(fx).await;
                return Response::Routed(Ok(()));
            }
            Request::Connected(id) => return Response::Connected(self.state.connected(id)),
            Request::Loads => return Response::Loads(self.state.loads()),
            Request::Presence(report) => {
                for change in self.nodes.report(report, now) {
                    self.apply_presence(change, now).await;
                }
                return Response::Done;
            }
        };
        self.perform(fx).await;
        Response::Done
    }

    /// Feeds one agent's cluster-wide change to the state.
    async fn apply_presence(&mut self, change: PresenceChange, now: i64) {
        let fx = match change {
            PresenceChange::Up(info) => {
                // A node reports the agent as its socket found it at sign-in; an admin may
                // have changed capacity or name since, through another node (and a new
                // router learns every agent from such reports). The stored account wins.
                let info = match self.store.agent(info.id).await {
                    Ok(agent) => super::agent_info(&agent),
                    Err(_) => info,
                };
                self.state.agent_up(info, now)
            }
            PresenceChange::Down(id) => {
                let was_up = self.state.connected(id);
                let fx = self.state.agent_down(id, now);
                self.perform(fx).await;
                self.tell_if_gone(id, was_up);
                return;
            }
            PresenceChange::Status(id, status) => self.state.set_status(id, status, now),
        };
        self.perform(fx).await;
    }

    /// After a socket of `agent` closed: with its last one gone, supervisors hear it is
    /// offline (their floor shows it at once, on every node; its conversations wait out
    /// the grace period meanwhile).
    fn tell_if_gone(&self, agent: Uuid, was_up: bool) {
        if was_up && !self.state.connected(agent) {
            let frame = wire::encode(pb::server_envelope::Kind::Presence(pb::Presence {
                agent_id: agent.to_string(),
                status: pb::AgentStatus::Offline as i32,
            }));
            self.tell(None, &[], true, frame);
        }
    }

    async fn transfer(
        &mut self,
        conv: Uuid,
        by: AgentInfo,
        to_agent: Option<Uuid>,
        to_group: Option<String>,
        note: String,
    ) -> Result<(), RouteError> {
        // Routing knows open conversations only; whether one exists at all is the store's.
        self.store.conversation(conv).await?;
        let target = match (to_agent, to_group) {
            (Some(agent), None) => Target::Agent(agent),
            (None, Some(name)) => {
                let exists = self
                    .store
                    .list_groups()
                    .await?
                    .iter()
                    .any(|g| g.name == name);
                Target::Group { name, exists }
            }
            _ => Target::Unclear,
        };
        let fx = self.state.transfer(conv, &by, target, note, self.now());
        self.answer(fx).await
    }

    /// Performs `fx` and returns the answer it carried.
    async fn answer(&mut self, fx: Vec<Effect>) -> Result<(), RouteError> {
        self.perform(fx).await.unwrap_or_else(|| {
            Err(RouteError::Conflict(
                "the conversation changed meanwhile; reload".into(),
            ))
        })
    }

    /// Performs effects in order. A store request is run at once and the state's
    /// continuation performed before the effects after it, as if the state had waited.
    async fn perform(&mut self, fx: Vec<Effect>) -> Option<Result<(), RouteError>> {
        let mut queue = VecDeque::from(fx);
        let mut answer = None;
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Store(op) => {
                    let outcome = self.store_write(&op).await;
                    let then = self.state.stored(op.conv(), outcome, self.now());
                    for e in then.into_iter().rev() {
                        queue.push_front(e);
                    }
                }
                Effect::Answer(result) => {
                    answer.get_or_insert(result);
                }
                other => self.apply(other).await,
            }
        }
        answer
    }

    async fn store_write(&self, op: &StoreOp) -> Outcome {
        let at = now_ms();
        let result = match op {
            StoreOp::Assign { conv, agent } => {
                self.store.assign_if_unassigned(*conv, *agent, at).await
            }
            StoreOp::Reassign { conv, from, to } => {
                self.store.reassign(*conv, *from, *to, at).await
            }
            StoreOp::Requeue { conv, group } => {
                self.store.requeue(*conv, group, at).await.map(|()| true)
            }
        };
        match result {
            Ok(true) => Outcome::Done,
            Ok(false) => {
                tracing::debug!(?op, "the store refused a routing change");
                Outcome::Refused
            }
            Err(e) => {
                tracing::error!(?op, error = %e, "routing change failed in the store");
                Outcome::Failed(e.into())
            }
        }
    }

    async fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Presence { agent, status } => {
                let frame = wire::encode(pb::server_envelope::Kind::Presence(pb::Presence {
                    agent_id: agent.to_string(),
                    status: status as i32,
                }));
                self.tell_agents(&[agent], frame);
            }
            Effect::Offer {
                conv,
                agent,
                expires_in_ms,
            } => {
                let conversation = match expires_in_ms {
                    Some(_) => self.conversation_pb(conv).await,
                    None => None,
                };
                self.events
                    .lifecycle(conv, Lifecycle::Offered { agent_id: agent });
                if let Some(left) = expires_in_ms {
                    self.tell_offered(conv, agent, conversation, left);
                }
            }
            Effect::OfferAgain {
                conv,
                agent,
                expires_in_ms,
            } => {
                let conversation = self.conversation_pb(conv).await;
                self.tell_offered(conv, agent, conversation, expires_in_ms);
            }
            Effect::Withdrawn { conv, agent } => {
                let frame = wire::event(
                    conv,
                    Ev::OfferWithdrawn(pb::OfferWithdrawn {
                        agent_id: agent.to_string(),
                    }),
                );
                self.tell(None, &[agent], false, frame);
            }
            Effect::Queued {
                conv,
                group,
                position,
                agents,
            } => {
                let frame = wire::event(conv, Ev::Queued(pb::Queued { group, position }));
                self.tell_agents(&agents, frame);
            }
            Effect::Position {
                conv,
                visitor,
                position,
                ..
            } => {
                // The shopper learns its place, not which queue (e.g. `complaints`) it is in.
                let queued = pb::Queued {
                    group: String::new(),
                    position,
                };
                let frame = wire::event(conv, Ev::Queued(queued));
                self.tell(Some(visitor), &[], false, frame);
            }
            Effect::MoveInStore { conv, group } => {
                if let Err(e) = self.store.requeue(conv, &group, now_ms()).await {
                    tracing::error!(%conv, error = %e, "moving a waiting conversation");
                }
            }
            Effect::Assigned {
                conv,
                agent,
                agent_name,
                visitor,
                agents,
                waited_ms,
            } => {
                metrics::histogram!("kefu_queue_wait_seconds").record(waited_ms as f64 / 1000.0);
                let frame = wire::event(
                    conv,
                    Ev::Assigned(pb::Assigned {
                        agent: Some(wire::participant(SenderRole::Agent, agent, &agent_name)),
                    }),
                );
                self.tell(Some(visitor), &agents, true, frame);
                let text = format!("{agent_name} joined the conversation");
                self.system_message(conv, "assigned", text).await;
                self.events.lifecycle(
                    conv,
                    Lifecycle::Assigned {
                        agent_id: agent,
                        agent_name,
                    },
                );
            }
            Effect::Transferred {
                conv,
                visitor,
                from,
                to,
                note,
                by,
                by_name,
            } => {
                self.transferred(conv, visitor, from, to, note, by, by_name)
                    .await
            }
            Effect::AgentLeft { conv } => {
                let text = "Your agent was disconnected; connecting you to another agent";
                self.system_message(conv, "agent_left", text.into()).await;
            }
            Effect::Store(_) | Effect::Answer(_) => unreachable!("handled by perform"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn transferred(
        &mut self,
        conv: Uuid,
        visitor: Uuid,
        from: Uuid,
        to: TransferTo,
        note: String,
        by: Uuid,
        by_name: String,
    ) {
        let (to_agent, to_group, target_name) = match to {
            TransferTo::Agent { id, name } => (Some(id), None, name),
            TransferTo::Group(g) => (None, Some(g.clone()), g),
        };
        let event = pb::Transferred {
            from_agent_id: from.to_string(),
            to_agent_id: to_agent.map(|a| a.to_string()).unwrap_or_default(),
            to_group: to_group.clone().unwrap_or_default(),
            note: note.clone(),
        };
        let agents = [vec![from], to_agent.into_iter().collect()].concat();
        let with_note = wire::event(conv, Ev::Transferred(event.clone()));
        self.tell(None, &agents, true, with_note);
        // The shopper hears that an agent (or a queue) takes over: not who had it, which
        // group it goes to, nor the note.
        let for_shopper = wire::event(
            conv,
            Ev::Transferred(pb::Transferred {
                to_agent_id: event.to_agent_id,
                ..Default::default()
            }),
        );
        self.tell(Some(visitor), &[], false, for_shopper);
        let text = transfer_activity(&by_name, by == from, to_agent == Some(by), &target_name);
        if !note.is_empty() {
            self.write(NewMessage {
                conversation_id: conv,
                client_msg_id: format!("transfer-note-{}", Uuid::now_v7()),
                sender_role: SenderRole::Agent,
                sender_id: by,
                sender_name: by_name,
                body: Body::PrivateNote { text: note },
                created_at: now_ms(),
            })
            .await;
        }
        self.system_message(conv, "transferred", text).await;
        self.events.lifecycle(
            conv,
            Lifecycle::Transferred {
                from_agent_id: from,
                to_agent_id: to_agent,
                to_group,
            },
        );
    }

    /// Sends an event to these agents and to supervisors watching.
    fn tell_agents(&self, agents: &[Uuid], frame: bytes::Bytes) {
        self.tell(None, agents, true, frame);
    }

    fn tell(&self, visitor: Option<Uuid>, agents: &[Uuid], watchers: bool, frame: bytes::Bytes) {
        self.hub.publish(
            &Recipients {
                visitor,
                agents,
                watchers,
                except: None,
            },
            Outbound::event(frame),
        );
    }

    fn tell_offered(
        &self,
        conv: Uuid,
        agent: Uuid,
        conversation: Option<pb::Conversation>,
        left_ms: i64,
    ) {
        let frame = wire::event(
            conv,
            Ev::Offered(pb::Offered {
                agent_id: agent.to_string(),
                expires_at_ms: now_ms() + left_ms,
                conversation,
            }),
        );
        self.tell(None, &[agent], false, frame);
    }

    /// The offered conversation as the desk shows it; `None` (logged) if it cannot be read.
    async fn conversation_pb(&self, conv: Uuid) -> Option<pb::Conversation> {
        let loaded: Result<pb::Conversation, StoreError> = async {
            let c = self.store.conversation(conv).await?;
            let v = self.store.visitor(c.visitor_id).await?;
            let shopper = wire::participant(SenderRole::Shopper, v.id, &v.display_name);
            Ok(wire::conversation(&c, shopper))
        }
        .await;
        match loaded {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(%conv, error = %e, "loading offered conversation");
                None
            }
        }
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
        let g = self.state.gauges();
        metrics::gauge!("kefu_conversations", "state" => "queued").set(g.queued as f64);
        metrics::gauge!("kefu_conversations", "state" => "offered").set(g.offered as f64);
        metrics::gauge!("kefu_conversations", "state" => "assigned").set(g.assigned as f64);
        for (group, len) in g.queues {
            metrics::gauge!("kefu_queue_length", "group" => group).set(len as f64);
        }
    }
}

/// The activity entry of a transfer, which its shopper sees too: who moved it when it was
/// not its own agent (a supervisor), and a supervisor taking it over as such.
pub(crate) fn transfer_activity(by_name: &str, by_holder: bool, to_self: bool, to: &str) -> String {
    match (by_holder, to_self) {
        (true, _) => format!("Transferred to {to}"),
        (false, true) => format!("{by_name} took over the conversation"),
        (false, false) => format!("{by_name} transferred the conversation to {to}"),
    }
}
