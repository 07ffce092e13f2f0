//! Inputs about conversations: enqueue, adjust, accept and decline, transfer, release, and
//! the store's answers. Part of [`RoutingState`]; see `state.rs` for the data and
//! `queue.rs` for queues and offers.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{Effect, Held, Outcome, Pending, RoutingState, StoreOp, Target, TransferTo, Waiting};
use crate::{
    sessions::routing::{AgentInfo, RouteError},
    store::{Priority, Role},
};

impl RoutingState {
    /// A conversation opened, reopened or was sent back to a queue. Ignored while an agent
    /// holds it (it must be released or transferred first).
    pub fn enqueue(
        &mut self,
        conv: Uuid,
        group: String,
        visitor: Uuid,
        preferred: Option<Uuid>,
        priority: Priority,
        now_ms: i64,
    ) -> Vec<Effect> {
        if self.held.contains_key(&conv) || self.pending.contains_key(&conv) {
            return Vec::new();
        }
        self.add_waiting(conv, group, visitor, preferred, vec![], priority, now_ms);
        let group = self.waiting[&conv].group.clone();
        let position = self.queues[&group]
            .iter()
            .position(|c| *c == conv)
            .unwrap_or(0) as u32
            + 1;
        // The shopper hears its position from `notify_positions` in the dispatch.
        self.fx.push(Effect::Queued {
            conv,
            group: group.clone(),
            position,
            agents: self.group_agents(&group),
        });
        self.dispatch(&group, now_ms);
        self.take()
    }

    /// Moves a waiting conversation to `group`, offers it to `preferred` first, or changes
    /// its place by `priority`; a new group or preferred agent withdraws a pending offer.
    /// False if it is not waiting; a held conversation still keeps the new priority for
    /// when it goes back to a queue.
    pub fn adjust(
        &mut self,
        conv: Uuid,
        group: Option<String>,
        preferred: Option<Uuid>,
        priority: Option<Priority>,
        now_ms: i64,
    ) -> (bool, Vec<Effect>) {
        let Some(w) = self.waiting.get(&conv) else {
            if let (Some(h), Some(p)) = (self.held.get_mut(&conv), priority) {
                h.priority = p;
            }
            return (false, Vec::new());
        };
        let old_group = w.group.clone();
        let moved = group.as_ref().is_some_and(|g| *g != old_group);
        let redirected = preferred.is_some_and(|p| w.offer.is_some_and(|(a, _)| a != p));
        if moved || redirected {
            let mut w = self.remove_waiting(conv).expect("checked above");
            if let Some((agent, _)) = w.offer.take() {
                self.fx.push(Effect::Withdrawn { conv, agent });
            }
            let new_group = group.unwrap_or_else(|| old_group.clone());
            if moved {
                self.fx.push(Effect::MoveInStore {
                    conv,
                    group: new_group.clone(),
                });
            }
            self.add_waiting(
                conv,
                new_group.clone(),
                w.visitor,
                preferred.or(w.preferred),
                w.excluded,
                priority.unwrap_or(w.priority),
                w.since,
            );
            let agents = [self.group_agents(&old_group), self.group_agents(&new_group)].concat();
            self.fx.push(Effect::Queued {
                conv,
                group: new_group.clone(),
                position: 0,
                agents,
            });
            self.notify_positions(&old_group);
            self.dispatch(&new_group, now_ms);
        } else if let Some(p) = priority
            && p != w.priority
        {
            self.waiting.get_mut(&conv).expect("checked above").priority = p;
            if let Some(q) = self.queues.get_mut(&old_group) {
                q.retain(|c| *c != conv);
            }
            self.insert_queued(&old_group, conv, p);
            self.dispatch(&old_group, now_ms);
        }
        (true, self.take())
    }

    /// The agent takes a waiting conversation: one offered to it, or (in its groups and
    /// under capacity; supervisors anywhere) one it picked from a queue. Answered with
    /// [`Effect::Answer`], after the store's assignment if it gets that far.
    pub fn accept(&mut self, conv: Uuid, agent: Uuid, _now_ms: i64) -> Vec<Effect> {
        if let Err(e) = self.may_accept(conv, agent) {
            return vec![Effect::Answer(Err(e))];
        }
        self.start_assign(conv, agent, true);
        self.take()
    }

    fn may_accept(&self, conv: Uuid, agent: Uuid) -> Result<(), RouteError> {
        let w = self.waiting.get(&conv).ok_or_else(|| {
            RouteError::Conflict(
                "this conversation is no longer waiting; another agent may have taken it".into(),
            )
        })?;
        let slot = self
            .agents
            .get(&agent)
            .ok_or_else(|| RouteError::Forbidden("agent is not connected".into()))?;
        if w.offer.map(|o| o.0) == Some(agent) {
            return Ok(());
        }
        let supervisor = slot.info.role >= Role::Supervisor;
        if !supervisor && !slot.in_group(&w.group) {
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
        Ok(())
    }

    /// The agent declined its offer: it moves on, the agent excluded.
    pub fn decline(&mut self, conv: Uuid, agent: Uuid, now_ms: i64) -> Vec<Effect> {
        if self.offered_to(conv) == Some(agent) {
            self.withdraw_offer(conv, true, now_ms);
        }
        self.take()
    }

    /// Moves a held conversation to another online agent or to a group's queue (the
    /// previous agent excluded). Only its agent or a supervisor may. Answered with
    /// [`Effect::Answer`], after the store's write if it gets that far.
    pub fn transfer(
        &mut self,
        conv: Uuid,
        by: &AgentInfo,
        target: Target,
        note: String,
        _now_ms: i64,
    ) -> Vec<Effect> {
        let from = match self.held.get(&conv) {
            Some(h) if !self.pending.contains_key(&conv) => h.agent,
            _ => {
                return answer(RouteError::Conflict(
                    "only an assigned conversation can be transferred".into(),
                ));
            }
        };
        if from != by.id && by.role < Role::Supervisor {
            return answer(RouteError::Forbidden(
                "only the assigned agent or a supervisor can transfer this".into(),
            ));
        }
        let (by, by_name) = (by.id, by.name.clone());
        match target {
            Target::Agent(to) => {
                if to == from {
                    return answer(RouteError::Conflict(
                        "the conversation is already with that agent".into(),
                    ));
                }
                if self.agents.get(&to).is_none_or(|s| s.conns == 0) {
                    return answer(RouteError::Conflict("that agent is not online".into()));
                }
                self.fx
                    .push(Effect::Store(StoreOp::Reassign { conv, from, to }));
                let p = Pending::Reassign {
                    to,
                    note,
                    by,
                    by_name,
                };
                self.pending.insert(conv, p);
            }
            Target::Group { name, exists } => {
                if !exists {
                    return answer(RouteError::NotFound(format!(
                        "group `{name}` does not exist"
                    )));
                }
                self.fx.push(Effect::Store(StoreOp::Requeue {
                    conv,
                    group: name.clone(),
                }));
                let p = Pending::Transfer {
                    group: name,
                    note,
                    by,
                    by_name,
                };
                self.pending.insert(conv, p);
            }
            Target::Unclear => {
                return answer(RouteError::Conflict(
                    "give exactly one of to_agent_id or to_group".into(),
                ));
            }
        }
        self.take()
    }

    /// A conversation closed: its queue place or its agent's capacity is freed.
    pub fn release(&mut self, conv: Uuid, now_ms: i64) -> Vec<Effect> {
        if let Some(w) = self.remove_waiting(conv) {
            if let Some((agent, _)) = w.offer {
                self.fx.push(Effect::Withdrawn { conv, agent });
            }
            self.notify_positions(&w.group);
        }
        self.unhold(conv);
        // A store request still out is answered into nothing.
        self.pending.remove(&conv);
        self.dispatch_all(now_ms);
        self.take()
    }

    /// The store answered the request about `conv` (see [`Effect::Store`]).
    pub fn stored(&mut self, conv: Uuid, outcome: Outcome, now_ms: i64) -> Vec<Effect> {
        let Some(p) = self.pending.remove(&conv) else {
            return self.take();
        };
        match p {
            Pending::Assign {
                agent,
                waiting,
                index,
                accepted,
            } => self.assigned(conv, agent, waiting, index, accepted, outcome, now_ms),
            Pending::Reassign {
                to,
                note,
                by,
                by_name,
            } => match outcome {
                Outcome::Done => {
                    let h = self.unhold(conv).expect("held while pending");
                    let name = self
                        .agents
                        .get(&to)
                        .map(|s| s.info.name.clone())
                        .unwrap_or_default();
                    self.hold(conv, to, h.clone());
                    self.fx.push(Effect::Transferred {
                        conv,
                        visitor: h.visitor,
                        from: h.agent,
                        to: TransferTo::Agent { id: to, name },
                        note,
                        by,
                        by_name,
                    });
                    self.fx.push(Effect::Answer(Ok(())));
                    self.dispatch_all(now_ms);
                }
                other => self.transfer_failed(conv, other, now_ms),
            },
            Pending::Transfer {
                group,
                note,
                by,
                by_name,
            } => match outcome {
                Outcome::Done => {
                    let h = self.unhold(conv).expect("held while pending");
                    self.fx.push(Effect::Transferred {
                        conv,
                        visitor: h.visitor,
                        from: h.agent,
                        to: TransferTo::Group(group.clone()),
                        note,
                        by,
                        by_name,
                    });
                    self.fx.push(Effect::Answer(Ok(())));
                    self.add_waiting(
                        conv,
                        group.clone(),
                        h.visitor,
                        None,
                        vec![h.agent],
                        h.priority,
                        now_ms,
                    );
                    self.dispatch(&group, now_ms);
                    self.dispatch_all(now_ms);
                }
                other => self.transfer_failed(conv, other, now_ms),
            },
            Pending::Requeue { held, left } => {
                if outcome == Outcome::Done {
                    self.fx.push(Effect::AgentLeft { conv });
                    self.add_waiting(
                        conv,
                        held.group,
                        held.visitor,
                        None,
                        vec![left],
                        held.priority,
                        now_ms,
                    );
                }
                // Otherwise the store still has it with the agent who left; it is dropped
                // from routing until it is closed or the agent is back.
                let more = self
                    .pending
                    .values()
                    .any(|p| matches!(p, Pending::Requeue { .. }));
                if !more {
                    self.dispatch_all(now_ms);
                }
            }
        }
        self.take()
    }

    /// Answers a transfer the store refused or failed; the conversation stays with its
    /// agent, unless that agent was removed meanwhile.
    fn transfer_failed(&mut self, conv: Uuid, outcome: Outcome, now_ms: i64) {
        self.fx.push(Effect::Answer(Err(match outcome {
            Outcome::Failed(e) => e,
            _ => RouteError::Conflict("the conversation changed hands meanwhile; reload".into()),
        })));
        if let Some(h) = self.held.get(&conv)
            && !self.agents.contains_key(&h.agent)
        {
            let agent = h.agent;
            self.hand_back(agent, BTreeSet::from([conv]), now_ms);
        }
    }

    /// Continues after `assign_if_unassigned`.
    #[allow(clippy::too_many_arguments)]
    fn assigned(
        &mut self,
        conv: Uuid,
        agent: Uuid,
        mut w: Waiting,
        index: usize,
        accepted: bool,
        outcome: Outcome,
        now_ms: i64,
    ) {
        let group = w.group.clone();
        match outcome {
            Outcome::Done => {
                if let Some((offered, _)) = w.offer
                    && offered != agent
                {
                    self.fx.push(Effect::Withdrawn {
                        conv,
                        agent: offered,
                    });
                }
                let Some(slot) = self.agents.get(&agent) else {
                    // Removed while the store was asked: it must not keep it.
                    let held = self.unhold(conv).expect("held while pending");
                    self.fx.push(Effect::Store(StoreOp::Requeue {
                        conv,
                        group: held.group.clone(),
                    }));
                    self.pending
                        .insert(conv, Pending::Requeue { held, left: agent });
                    return;
                };
                let mut agents = self.group_agents(&group);
                agents.push(agent);
                self.fx.push(Effect::Assigned {
                    conv,
                    agent,
                    agent_name: slot.info.name.clone(),
                    visitor: w.visitor,
                    agents,
                    waited_ms: now_ms - w.since,
                });
                if accepted {
                    self.fx.push(Effect::Answer(Ok(())));
                    self.dispatch(&group, now_ms);
                }
            }
            Outcome::Refused => {
                // Someone else has it (another router, for a moment): forget it.
                self.unhold(conv);
                if accepted {
                    self.fx.push(Effect::Answer(Err(RouteError::Conflict(
                        "this conversation was already assigned".into(),
                    ))));
                } else {
                    self.dispatch(&group, now_ms);
                }
            }
            Outcome::Failed(e) => {
                // Nothing changed in the store: it waits where it waited, offer and all.
                self.unhold(conv);
                if let Some((offered, _)) = w.offer {
                    match self.agents.get_mut(&offered) {
                        Some(slot) => {
                            slot.offers.insert(conv);
                        }
                        None => w.offer = None,
                    }
                }
                // Its old place, unless the queue moved meanwhile so that it would stand
                // ahead of a higher priority or behind a lower one (found by the property
                // test): then the nearest place that keeps the queue in priority order.
                let waiting = &self.waiting;
                let queue = self.queues.entry(group).or_default();
                let prio = |c: &Uuid| waiting.get(c).map(|o| o.priority);
                let higher_end = queue
                    .iter()
                    .rposition(|c| prio(c).is_some_and(|p| p > w.priority))
                    .map_or(0, |i| i + 1);
                let lower_start = queue
                    .iter()
                    .position(|c| prio(c).is_some_and(|p| p < w.priority))
                    .unwrap_or(queue.len());
                queue.insert(index.clamp(higher_end, lower_start.max(higher_end)), conv);
                self.waiting.insert(conv, w);
                if accepted {
                    self.fx.push(Effect::Answer(Err(e)));
                }
            }
        }
    }

    /// Asks the store to give a waiting `conv` to `agent`, which holds it meanwhile.
    pub(super) fn start_assign(&mut self, conv: Uuid, agent: Uuid, accepted: bool) {
        let index = self
            .queues
            .get(&self.waiting[&conv].group)
            .and_then(|q| q.iter().position(|c| *c == conv))
            .unwrap_or(0);
        let w = self.remove_waiting(conv).expect("waiting");
        let held = Held {
            agent,
            group: w.group.clone(),
            visitor: w.visitor,
            priority: w.priority,
        };
        self.hold(conv, agent, held);
        self.fx.push(Effect::Store(StoreOp::Assign { conv, agent }));
        self.pending.insert(
            conv,
            Pending::Assign {
                agent,
                waiting: w,
                index,
                accepted,
            },
        );
    }

    fn hold(&mut self, conv: Uuid, agent: Uuid, mut held: Held) {
        held.agent = agent;
        if let Some(slot) = self.agents.get_mut(&agent) {
            slot.active.insert(conv);
        }
        self.held.insert(conv, held);
    }

    fn unhold(&mut self, conv: Uuid) -> Option<Held> {
        let h = self.held.remove(&conv)?;
        if let Some(slot) = self.agents.get_mut(&h.agent) {
            slot.active.remove(&conv);
        }
        Some(h)
    }
}

fn answer(e: RouteError) -> Vec<Effect> {
    vec![Effect::Answer(Err(e))]
}
