//! Queues and offers: where a waiting conversation stands and who is offered it. Part of
//! [`RoutingState`]; the rules for one pick are in `routing/pick.rs`.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::{Effect, RoutingState, Waiting};
use crate::{
    sessions::routing::pick::{Candidate, pick_agent},
    store::Priority,
};

impl RoutingState {
    /// Puts `conv` in its group's queue, unless it waits already.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_waiting(
        &mut self,
        conv: Uuid,
        group: String,
        visitor: Uuid,
        preferred: Option<Uuid>,
        excluded: Vec<Uuid>,
        priority: Priority,
        since: i64,
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
                since,
                priority,
            },
        );
    }

    /// Queues `conv` behind everything of equal or higher priority.
    pub(super) fn insert_queued(&mut self, group: &str, conv: Uuid, priority: Priority) {
        let waiting = &self.waiting;
        let queue = self.queues.entry(group.to_string()).or_default();
        let at = queue
            .iter()
            .position(|c| waiting.get(c).is_some_and(|w| w.priority < priority))
            .unwrap_or(queue.len());
        queue.insert(at, conv);
    }

    pub(super) fn remove_waiting(&mut self, conv: Uuid) -> Option<Waiting> {
        let w = self.waiting.remove(&conv)?;
        if let Some(q) = self.queues.get_mut(&w.group) {
            q.retain(|c| *c != conv);
        }
        if let Some((agent, _)) = w.offer
            && let Some(slot) = self.agents.get_mut(&agent)
        {
            slot.offers.remove(&conv);
        }
        Some(w)
    }

    pub(super) fn group_agents(&self, group: &str) -> Vec<Uuid> {
        self.agents
            .values()
            .filter(|s| s.in_group(group))
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
                in_group: s.in_group(group),
                available: s.available(),
            })
            .collect()
    }

    pub(super) fn dispatch_all(&mut self, now_ms: i64) {
        let groups: Vec<String> = self
            .queues
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(g, _)| g.clone())
            .collect();
        for g in groups {
            self.dispatch(&g, now_ms);
        }
    }

    /// Offers every waiting conversation of `group` that someone can take, in queue order,
    /// then tells the still-waiting shoppers their positions.
    pub(super) fn dispatch(&mut self, group: &str, now_ms: i64) {
        let convs = self.queue(group);
        for conv in convs {
            let Some(w) = self.waiting.get(&conv) else {
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
                self.waiting.get_mut(&conv).expect("above").excluded.clear();
                pick = pick_agent(&cands, preferred, &[]);
            }
            match pick {
                Some(agent) => self.offer(conv, agent, now_ms),
                None if preferred.is_none() => break, // nobody free in this group
                None => {}
            }
        }
        self.notify_positions(group);
    }

    /// Tells waiting shoppers their position when it changed. Conversations already offered
    /// to an agent are about to be served and no longer count as ahead of anyone.
    pub(super) fn notify_positions(&mut self, group: &str) {
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
                self.fx.push(Effect::Position {
                    conv: *conv,
                    visitor: w.visitor,
                    group: group.to_string(),
                    position,
                });
            }
        }
    }

    pub(super) fn offer(&mut self, conv: Uuid, agent: Uuid, now_ms: i64) {
        if self.cfg.auto_accept {
            self.fx.push(Effect::Offer {
                conv,
                agent,
                expires_in_ms: None,
            });
            self.start_assign(conv, agent, false);
            return;
        }
        let timeout = self.cfg.offer_timeout_ms;
        let w = self.waiting.get_mut(&conv).expect("offered while waiting");
        w.offer = Some((agent, now_ms + timeout));
        if let Some(slot) = self.agents.get_mut(&agent) {
            slot.offers.insert(conv);
        }
        self.fx.push(Effect::Offer {
            conv,
            agent,
            expires_in_ms: Some(timeout),
        });
    }

    /// Withdraws the pending offer of `conv` and offers it again; `exclude` keeps it from
    /// going straight back to the same agent.
    pub(super) fn withdraw_offer(&mut self, conv: Uuid, exclude: bool, now_ms: i64) {
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
            slot.offers.remove(&conv);
        }
        self.fx.push(Effect::Withdrawn { conv, agent });
        self.dispatch(&group, now_ms);
    }

    /// Withdraws the offers made to `agent` for conversations matching `which`.
    pub(super) fn withdraw_offers_to(
        &mut self,
        agent: Uuid,
        exclude: bool,
        which: impl Fn(&Waiting) -> bool,
        now_ms: i64,
    ) {
        let offers: BTreeSet<Uuid> = self
            .agents
            .get(&agent)
            .map(|s| s.offers.clone())
            .unwrap_or_default();
        for conv in offers {
            if self.waiting.get(&conv).is_some_and(&which) {
                self.withdraw_offer(conv, exclude, now_ms);
            }
        }
    }
}
