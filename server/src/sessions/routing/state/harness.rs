//! Test support: drives a [`RoutingState`] the way the shell does (store requests answered
//! at once, their continuation performed first) and names agents and conversations.

use std::collections::VecDeque;

use kefu_proto::v1::AgentStatus as Status;
use uuid::Uuid;

use super::{Config, Effect, Outcome, RoutingState, StoreOp, Target};
use crate::{
    sessions::routing::{AgentInfo, RouteError},
    store::{Priority, Role},
};

pub const OFFER_MS: i64 = 30_000;
pub const GRACE_MS: i64 = 60_000;

pub fn cfg() -> Config {
    Config {
        offer_timeout_ms: OFFER_MS,
        agent_grace_ms: GRACE_MS,
        auto_accept: false,
    }
}

/// Agent `n`.
pub fn ag(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
/// Conversation `n`.
pub fn cv(n: u128) -> Uuid {
    Uuid::from_u128(1_000 + n)
}
/// The shopper of conversation `n`.
pub fn vi(n: u128) -> Uuid {
    Uuid::from_u128(2_000 + n)
}

pub fn info(n: u128, groups: &[&str], capacity: u32) -> AgentInfo {
    AgentInfo {
        id: ag(n),
        name: format!("agent {n}"),
        role: Role::Agent,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        capacity,
    }
}

pub fn supervisor(n: u128, groups: &[&str], capacity: u32) -> AgentInfo {
    AgentInfo {
        role: Role::Supervisor,
        ..info(n, groups, capacity)
    }
}

pub struct Harness {
    pub s: RoutingState,
    pub now: i64,
    /// Answers for the next store requests, in order; `Done` once empty.
    pub outcomes: VecDeque<Outcome>,
    /// Every store request made, in order.
    pub requests: Vec<StoreOp>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::with(cfg())
    }
}

impl Harness {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with(cfg: Config) -> Self {
        Self::of(RoutingState::new(cfg))
    }
    pub fn of(s: RoutingState) -> Self {
        Self {
            s,
            now: 0,
            outcomes: VecDeque::new(),
            requests: Vec::new(),
        }
    }

    /// Performs `fx` as the shell does; returns every effect, store requests included,
    /// in the order the shell meets them.
    pub fn run(&mut self, fx: Vec<Effect>) -> Vec<Effect> {
        let mut out = Vec::new();
        let mut queue = VecDeque::from(fx);
        while let Some(e) = queue.pop_front() {
            if let Effect::Store(op) = &e {
                self.requests.push(op.clone());
                let outcome = self.outcomes.pop_front().unwrap_or(Outcome::Done);
                let then = self.s.stored(op.conv(), outcome, self.now);
                for x in then.into_iter().rev() {
                    queue.push_front(x);
                }
            }
            out.push(e);
        }
        out
    }

    pub fn up(&mut self, a: AgentInfo) -> Vec<Effect> {
        let fx = self.s.agent_up(a, self.now);
        self.run(fx)
    }
    pub fn down(&mut self, a: u128) -> Vec<Effect> {
        let fx = self.s.agent_down(ag(a), self.now);
        self.run(fx)
    }
    pub fn status(&mut self, a: u128, status: Status) -> Vec<Effect> {
        let fx = self.s.set_status(ag(a), status, self.now);
        self.run(fx)
    }
    pub fn changed(&mut self, a: AgentInfo) -> Vec<Effect> {
        let fx = self.s.agent_changed(a, self.now);
        self.run(fx)
    }
    pub fn removed(&mut self, a: u128) -> Vec<Effect> {
        let fx = self.s.agent_removed(ag(a), self.now);
        self.run(fx)
    }
    pub fn enqueue(&mut self, c: u128, group: &str) -> Vec<Effect> {
        self.enqueue_with(c, group, None, Priority::Normal)
    }
    pub fn enqueue_with(
        &mut self,
        c: u128,
        group: &str,
        preferred: Option<u128>,
        priority: Priority,
    ) -> Vec<Effect> {
        let fx = self.s.enqueue(
            cv(c),
            group.into(),
            vi(c),
            preferred.map(ag),
            priority,
            self.now,
        );
        self.run(fx)
    }
    pub fn accept(&mut self, c: u128, a: u128) -> Vec<Effect> {
        let fx = self.s.accept(cv(c), ag(a), self.now);
        self.run(fx)
    }
    pub fn decline(&mut self, c: u128, a: u128) -> Vec<Effect> {
        let fx = self.s.decline(cv(c), ag(a), self.now);
        self.run(fx)
    }
    pub fn transfer(&mut self, c: u128, by: &AgentInfo, target: Target) -> Vec<Effect> {
        let fx = self
            .s
            .transfer(cv(c), by, target, "a note".into(), self.now);
        self.run(fx)
    }
    pub fn release(&mut self, c: u128) -> Vec<Effect> {
        let fx = self.s.release(cv(c), self.now);
        self.run(fx)
    }
    /// Moves the clock on by `ms` and ticks.
    pub fn advance(&mut self, ms: i64) -> Vec<Effect> {
        self.now += ms;
        let fx = self.s.tick(self.now);
        self.run(fx)
    }
}

/// The offers made in `fx`, as (conversation, agent).
pub fn offers(fx: &[Effect]) -> Vec<(Uuid, Uuid)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Offer { conv, agent, .. } => Some((*conv, *agent)),
            _ => None,
        })
        .collect()
}

/// The offers withdrawn in `fx`, as (conversation, agent).
pub fn withdrawn(fx: &[Effect]) -> Vec<(Uuid, Uuid)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Withdrawn { conv, agent } => Some((*conv, *agent)),
            _ => None,
        })
        .collect()
}

/// The answer carried by `fx`.
pub fn answer(fx: &[Effect]) -> Option<Result<(), RouteError>> {
    fx.iter().find_map(|e| match e {
        Effect::Answer(r) => Some(r.clone()),
        _ => None,
    })
}
