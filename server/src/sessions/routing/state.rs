//! The routing state as a pure state machine: who is online, who holds which conversation,
//! who waits where and who has been offered what.
//!
//! Every input is a method taking the time as `now_ms` (milliseconds on the shell's
//! monotonic clock; only differences matter) and returning the [`Effect`]s the shell must
//! perform, in order. Nothing here does I/O, reads a clock or knows tokio: the shell in
//! `routing/mod.rs` turns effects into store writes, frames and events, so every rule can be
//! tested by feeding inputs and reading effects (`state/tests.rs`, `state/props.rs`).
//!
//! The store's guards (`assign_if_unassigned`, `reassign`, `requeue`) stay the last word:
//! the state asks for them with [`Effect::Store`] and continues when told the [`Outcome`]
//! through [`RoutingState::stored`]. The shell performs that request before anything else
//! and feeds the outcome back at once, so no other input comes between; the state is still
//! consistent meanwhile, because a conversation whose request is out counts as held by the
//! agent it is being given to and is offered to nobody.
//!
//! Layout: this file holds the data, the agent inputs, ticks, queries and restore;
//! `state/effect.rs` what goes out (effects, store requests) and comes back (outcomes);
//! `state/flow.rs` the inputs about conversations (enqueue, adjust, accept, decline,
//! transfer, release, store answers); `state/queue.rs` queues, dispatch and offers.

mod effect;
mod flow;
#[cfg(test)]
mod harness;
#[cfg(test)]
mod props;
mod queue;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kefu_proto::v1::AgentStatus as Status;
use uuid::Uuid;

pub use effect::{Effect, Outcome, StoreOp, Target, TransferTo};

use super::AgentInfo;
use crate::store::Priority;

/// Timings and the auto-accept switch, from `routing` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long an offer waits for acceptance before it moves on.
    pub offer_timeout_ms: i64,
    /// How long a disconnected agent keeps its conversations.
    pub agent_grace_ms: i64,
    /// Assign at once instead of offering.
    pub auto_accept: bool,
}

/// What the store holds about open conversations: enough to rebuild the state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Open conversations, oldest first (the order queues are rebuilt in).
    pub conversations: Vec<OpenConversation>,
    /// The agents those conversations are assigned to.
    pub agents: Vec<AgentInfo>,
}

/// One open conversation in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenConversation {
    pub id: Uuid,
    pub group: String,
    pub visitor: Uuid,
    /// The agent it is assigned to; `None` while it waits.
    pub agent: Option<Uuid>,
    pub priority: Priority,
}

/// Counts for the gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    pub queued: usize,
    pub offered: usize,
    pub assigned: usize,
    /// Length of every queue ever used, by group.
    pub queues: Vec<(String, usize)>,
}

/// One agent's presence and load, as the supervisors' floor shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentLoad {
    pub agent: Uuid,
    /// A `pb::AgentStatus`: the one it chose, or offline while no socket is connected
    /// (also during its grace period).
    pub status: i32,
    /// Conversations it holds (or is being given).
    pub active: u32,
}

/// One agent as routing knows it (from its first connection until it is removed).
#[derive(Debug, Clone)]
struct Slot {
    info: AgentInfo,
    conns: u32,
    status: Status,
    /// Set while disconnected: when its conversations go back to their queues.
    grace_until: Option<i64>,
    /// Conversations it holds, or is being given (a store request out).
    active: BTreeSet<Uuid>,
    /// Conversations offered to it now.
    offers: BTreeSet<Uuid>,
}

impl Slot {
    fn new(info: AgentInfo) -> Self {
        Self {
            info,
            conns: 0,
            status: Status::Online,
            grace_until: None,
            active: BTreeSet::new(),
            offers: BTreeSet::new(),
        }
    }
    fn available(&self) -> bool {
        self.conns > 0 && self.status == Status::Online
    }
    fn load(&self) -> u32 {
        (self.active.len() + self.offers.len()) as u32
    }
    fn in_group(&self, group: &str) -> bool {
        self.info.groups.iter().any(|g| g == group)
    }
}

/// A conversation in a queue.
#[derive(Debug, Clone)]
struct Waiting {
    group: String,
    visitor: Uuid,
    /// Offered first when available (sticky agent, or automation's choice).
    preferred: Option<Uuid>,
    /// Declined or let an offer lapse: skipped until everyone else was tried.
    excluded: Vec<Uuid>,
    /// The agent offered it and the offer's deadline.
    offer: Option<(Uuid, i64)>,
    /// The last position told to the shopper (0: none yet).
    position: u32,
    since: i64,
    priority: Priority,
}

/// A conversation an agent holds (or is being given).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    agent: Uuid,
    group: String,
    visitor: Uuid,
    priority: Priority,
}

/// A store request out, and how to continue once it is answered.
#[derive(Debug, Clone)]
enum Pending {
    /// Held by `agent` meanwhile; `waiting` is put back if the store fails.
    Assign {
        agent: Uuid,
        waiting: Waiting,
        index: usize,
        /// An accept (answered, then its group dispatched) rather than auto-accept.
        accepted: bool,
    },
    /// Still held by its current agent meanwhile.
    Reassign {
        to: Uuid,
        note: String,
        by: Uuid,
        by_name: String,
    },
    /// A transfer to a group; still held by its current agent meanwhile.
    Transfer {
        group: String,
        note: String,
        by: Uuid,
        by_name: String,
    },
    /// Its agent left; held by nobody meanwhile.
    Requeue { held: Held, left: Uuid },
}

/// The whole routing state. See the module docs.
#[derive(Debug, Clone)]
pub struct RoutingState {
    cfg: Config,
    agents: BTreeMap<Uuid, Slot>,
    /// Waiting conversations per group, by priority then arrival.
    queues: BTreeMap<String, VecDeque<Uuid>>,
    waiting: BTreeMap<Uuid, Waiting>,
    held: BTreeMap<Uuid, Held>,
    pending: BTreeMap<Uuid, Pending>,
    /// Effects of the input being handled.
    fx: Vec<Effect>,
}

impl RoutingState {
    /// An empty state: nobody online, nothing waiting.
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            agents: BTreeMap::new(),
            queues: BTreeMap::new(),
            waiting: BTreeMap::new(),
            held: BTreeMap::new(),
            pending: BTreeMap::new(),
            fx: Vec::new(),
        }
    }

    /// Rebuilds the state from the store: waiting conversations queue up in the snapshot's
    /// order (by priority), assigned ones go to their agents, who start offline with a
    /// grace period to reconnect. A conversation whose agent is missing from
    /// `snapshot.agents` waits in its queue. Call [`Self::kick`] next to offer what can be.
    pub fn restore(cfg: Config, snapshot: Snapshot, now_ms: i64) -> Self {
        let mut state = Self::new(cfg);
        let infos: BTreeMap<Uuid, AgentInfo> =
            snapshot.agents.into_iter().map(|a| (a.id, a)).collect();
        for c in snapshot.conversations {
            match c.agent.and_then(|a| infos.get(&a)) {
                Some(info) => {
                    let slot = state.agents.entry(info.id).or_insert_with(|| {
                        let mut slot = Slot::new(info.clone());
                        slot.status = Status::Offline;
                        slot.grace_until = Some(now_ms + cfg.agent_grace_ms);
                        slot
                    });
                    slot.active.insert(c.id);
                    state.held.insert(
                        c.id,
                        Held {
                            agent: info.id,
                            group: c.group,
                            visitor: c.visitor,
                            priority: c.priority,
                        },
                    );
                }
                None => {
                    state.add_waiting(c.id, c.group, c.visitor, None, vec![], c.priority, now_ms)
                }
            }
        }
        state
    }

    /// What the store would hold for this state: waiting conversations in queue order,
    /// then held ones. Conversations with a store request out are left out (the store's
    /// answer decides where they are).
    pub fn snapshot(&self) -> Snapshot {
        let mut conversations = Vec::new();
        for queue in self.queues.values() {
            for conv in queue {
                let w = &self.waiting[conv];
                conversations.push(OpenConversation {
                    id: *conv,
                    group: w.group.clone(),
                    visitor: w.visitor,
                    agent: None,
                    priority: w.priority,
                });
            }
        }
        let mut agents = BTreeSet::new();
        for (conv, h) in &self.held {
            if self.pending.contains_key(conv) {
                continue;
            }
            agents.insert(h.agent);
            conversations.push(OpenConversation {
                id: *conv,
                group: h.group.clone(),
                visitor: h.visitor,
                agent: Some(h.agent),
                priority: h.priority,
            });
        }
        let agents = agents
            .into_iter()
            .filter_map(|a| self.agents.get(&a).map(|s| s.info.clone()))
            .collect();
        Snapshot {
            conversations,
            agents,
        }
    }

    /// Offers whatever can be offered now (after [`Self::restore`]).
    pub fn kick(&mut self, now_ms: i64) -> Vec<Effect> {
        self.dispatch_all(now_ms);
        self.take()
    }

    /// An agent connection opened: the agent is online (unless away), sees the offers it
    /// holds, and may be offered more.
    pub fn agent_up(&mut self, info: AgentInfo, now_ms: i64) -> Vec<Effect> {
        let id = info.id;
        let slot = self
            .agents
            .entry(id)
            .or_insert_with(|| Slot::new(info.clone()));
        slot.info = info;
        slot.conns += 1;
        slot.grace_until = None;
        if slot.status == Status::Offline {
            slot.status = Status::Online;
        }
        let status = slot.status;
        self.fx.push(Effect::Presence { agent: id, status });
        // A desk that reconnected before its old socket was seen to die would otherwise
        // never hear of the offers it holds.
        let held: Vec<Uuid> = slot.offers.iter().copied().collect();
        for conv in held {
            if let Some((_, deadline)) = self.waiting.get(&conv).and_then(|w| w.offer) {
                self.fx.push(Effect::OfferAgain {
                    conv,
                    agent: id,
                    expires_in_ms: (deadline - now_ms).max(0),
                });
            }
        }
        self.dispatch_all(now_ms);
        self.take()
    }

    /// An agent connection closed. With the last one gone its offers are withdrawn and its
    /// grace period starts.
    pub fn agent_down(&mut self, agent: Uuid, now_ms: i64) -> Vec<Effect> {
        let grace = self.cfg.agent_grace_ms;
        let Some(slot) = self.agents.get_mut(&agent) else {
            return Vec::new();
        };
        slot.conns = slot.conns.saturating_sub(1);
        if slot.conns == 0 {
            slot.grace_until = Some(now_ms + grace);
            self.withdraw_offers_to(agent, false, |_| true, now_ms);
        }
        self.take()
    }

    /// The agent set its status; away or busy agents lose their offers.
    pub fn set_status(&mut self, agent: Uuid, status: Status, now_ms: i64) -> Vec<Effect> {
        let Some(slot) = self.agents.get_mut(&agent) else {
            return Vec::new();
        };
        slot.status = status;
        self.fx.push(Effect::Presence { agent, status });
        if status == Status::Online {
            self.dispatch_all(now_ms);
        } else {
            self.withdraw_offers_to(agent, false, |_| true, now_ms);
        }
        self.take()
    }

    /// An admin changed the agent's capacity, groups, name or role: offers for groups it
    /// left go to others, and a grown capacity is used at once. No-op without a slot.
    pub fn agent_changed(&mut self, info: AgentInfo, now_ms: i64) -> Vec<Effect> {
        let Some(slot) = self.agents.get_mut(&info.id) else {
            return Vec::new();
        };
        let left: Vec<String> = slot
            .info
            .groups
            .iter()
            .filter(|g| !info.groups.contains(g))
            .cloned()
            .collect();
        let id = info.id;
        slot.info = info;
        self.withdraw_offers_to(id, true, |w| left.contains(&w.group), now_ms);
        self.dispatch_all(now_ms);
        self.take()
    }

    /// The agent was disabled or deleted: its offers go to others, its conversations back
    /// to their queues at once, and it is never offered anything again (until a new
    /// [`Self::agent_up`]). Its later `agent_down`s are no-ops.
    pub fn agent_removed(&mut self, agent: Uuid, now_ms: i64) -> Vec<Effect> {
        let Some(slot) = self.agents.remove(&agent) else {
            return Vec::new();
        };
        for conv in slot.offers {
            self.withdraw_offer(conv, true, now_ms);
        }
        self.fx.push(Effect::Presence {
            agent,
            status: Status::Offline,
        });
        self.hand_back(agent, slot.active, now_ms);
        self.take()
    }

    /// Time passed: lapsed offers move on (the agent excluded), agents away past their
    /// grace period lose their conversations.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Effect> {
        let lapsed: Vec<Uuid> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.offer.is_some_and(|(_, deadline)| deadline <= now_ms))
            .map(|(c, _)| *c)
            .collect();
        for conv in lapsed {
            self.withdraw_offer(conv, true, now_ms);
        }
        let expired: Vec<Uuid> = self
            .agents
            .values()
            .filter(|s| s.grace_until.is_some_and(|t| t <= now_ms))
            .map(|s| s.info.id)
            .collect();
        for agent in expired {
            let slot = self.agents.get_mut(&agent).expect("listed above");
            slot.grace_until = None;
            slot.status = Status::Offline;
            let convs = std::mem::take(&mut slot.active);
            self.fx.push(Effect::Presence {
                agent,
                status: Status::Offline,
            });
            self.hand_back(agent, convs, now_ms);
        }
        self.take()
    }

    /// Sends conversations of an agent who left back to their queues (the agent excluded
    /// from them), through the store; dispatches once the last is back.
    fn hand_back(&mut self, agent: Uuid, convs: BTreeSet<Uuid>, now_ms: i64) {
        let mut sent = false;
        for conv in convs {
            if self.pending.contains_key(&conv) {
                // Its store request's answer decides; see `stored`.
                if let Some(slot) = self.agents.get_mut(&agent) {
                    slot.active.insert(conv);
                }
                continue;
            }
            let Some(held) = self.held.remove(&conv) else {
                continue;
            };
            self.fx.push(Effect::Store(StoreOp::Requeue {
                conv,
                group: held.group.clone(),
            }));
            self.pending
                .insert(conv, Pending::Requeue { held, left: agent });
            sent = true;
        }
        if !sent {
            self.dispatch_all(now_ms);
        }
    }

    /// Agents of `group` online now (connected, status online).
    pub fn online_in(&self, group: &str) -> u32 {
        self.agents
            .values()
            .filter(|s| s.available() && s.in_group(group))
            .count() as u32
    }

    /// The conversation's 1-based place in its queue, as last told to its shopper; `None`
    /// unless it waits unoffered.
    pub fn position(&self, conv: Uuid) -> Option<u32> {
        self.waiting
            .get(&conv)
            .filter(|w| w.offer.is_none() && w.position > 0)
            .map(|w| w.position)
    }

    /// The conversations waiting in `group`, in the order they will be offered.
    pub fn queue(&self, group: &str) -> Vec<Uuid> {
        self.queues
            .get(group)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The agent holding `conv` (or being given it).
    pub fn holder(&self, conv: Uuid) -> Option<Uuid> {
        self.held.get(&conv).map(|h| h.agent)
    }

    /// The agent `conv` is offered to now.
    pub fn offered_to(&self, conv: Uuid) -> Option<Uuid> {
        self.waiting.get(&conv).and_then(|w| w.offer).map(|o| o.0)
    }

    /// Whether the agent has a socket open now.
    pub fn connected(&self, agent: Uuid) -> bool {
        self.agents.get(&agent).is_some_and(|s| s.conns > 0)
    }

    /// Every agent routing knows: presence and load, for the supervisors' floor.
    pub fn loads(&self) -> Vec<AgentLoad> {
        self.agents
            .values()
            .map(|s| AgentLoad {
                agent: s.info.id,
                status: match s.conns {
                    0 => Status::Offline,
                    _ => s.status,
                } as i32,
                active: s.active.len() as u32,
            })
            .collect()
    }

    /// Counts for the gauges.
    pub fn gauges(&self) -> Gauges {
        let offered = self.waiting.values().filter(|w| w.offer.is_some()).count();
        Gauges {
            queued: self.waiting.len() - offered,
            offered,
            assigned: self.agents.values().map(|s| s.active.len()).sum(),
            queues: self
                .queues
                .iter()
                .map(|(g, q)| (g.clone(), q.len()))
                .collect(),
        }
    }

    fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.fx)
    }
}
