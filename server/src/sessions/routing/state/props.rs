//! Property tests: random sequences of inputs (agents coming, going, changing and removed;
//! conversations queued, adjusted, accepted, declined, transferred, closed; time passing;
//! the store agreeing, refusing or failing), with the invariants checked after every step.

use std::collections::{BTreeMap, BTreeSet};

use kefu_proto::v1::AgentStatus as Status;
use proptest::prelude::*;
use uuid::Uuid;

use super::{Config, Effect, Outcome, RoutingState, Target, harness::*};
use crate::{
    sessions::routing::{
        AgentInfo, RouteError,
        pick::{Candidate, pick_agent},
    },
    store::Priority,
};

const AGENTS: u8 = 4;
const CONVS: u8 = 6;
const GROUPS: [&str; 2] = ["a", "b"];

#[derive(Debug, Clone)]
enum Op {
    Up {
        a: u8,
        groups: u8,
        cap: u32,
    },
    Down(u8),
    Status(u8, u8),
    Changed {
        a: u8,
        groups: u8,
        cap: u32,
    },
    Removed(u8),
    Enqueue {
        c: u8,
        g: u8,
        preferred: Option<u8>,
        prio: u8,
    },
    Adjust {
        c: u8,
        g: Option<u8>,
        preferred: Option<u8>,
        prio: Option<u8>,
    },
    Accept(u8, u8),
    Decline(u8, u8),
    TransferToAgent {
        c: u8,
        by: u8,
        to: u8,
    },
    TransferToGroup {
        c: u8,
        by: u8,
        g: u8,
    },
    Release(u8),
    Tick(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let a = 1..=AGENTS;
    let c = 1..=CONVS;
    prop_oneof![
        3 => (a.clone(), 1..4u8, 0..4u32).prop_map(|(a, groups, cap)| Op::Up { a, groups, cap }),
        2 => a.clone().prop_map(Op::Down),
        1 => (a.clone(), 0..3u8).prop_map(|(a, s)| Op::Status(a, s)),
        1 => (a.clone(), 0..4u8, 0..4u32)
            .prop_map(|(a, groups, cap)| Op::Changed { a, groups, cap }),
        1 => a.clone().prop_map(Op::Removed),
        4 => (c.clone(), 0..2u8, proptest::option::of(a.clone()), 0..4u8)
            .prop_map(|(c, g, preferred, prio)| Op::Enqueue { c, g, preferred, prio }),
        1 => (
            c.clone(),
            proptest::option::of(0..2u8),
            proptest::option::of(a.clone()),
            proptest::option::of(0..4u8)
        )
            .prop_map(|(c, g, preferred, prio)| Op::Adjust { c, g, preferred, prio }),
        4 => (c.clone(), a.clone()).prop_map(|(c, a)| Op::Accept(c, a)),
        2 => (c.clone(), a.clone()).prop_map(|(c, a)| Op::Decline(c, a)),
        1 => (c.clone(), a.clone(), a.clone())
            .prop_map(|(c, by, to)| Op::TransferToAgent { c, by, to }),
        1 => (c.clone(), a.clone(), 0..2u8)
            .prop_map(|(c, by, g)| Op::TransferToGroup { c, by, g }),
        2 => c.prop_map(Op::Release),
        3 => (0..70_000i64).prop_map(Op::Tick),
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        8 => Just(Outcome::Done),
        1 => Just(Outcome::Refused),
        1 => Just(Outcome::Failed(RouteError::Internal("store down".into()))),
    ]
}

fn priority(n: u8) -> Priority {
    [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ][n as usize % 4]
}

fn groups(mask: u8) -> Vec<&'static str> {
    GROUPS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, g)| *g)
        .collect()
}

/// Agent 4 is a supervisor, the others agents.
fn agent(a: u8, mask: u8, cap: u32) -> AgentInfo {
    if a == AGENTS {
        supervisor(a.into(), &groups(mask), cap)
    } else {
        info(a.into(), &groups(mask), cap)
    }
}

/// Applies one input as the shell would; returns its effects.
fn step(h: &mut Harness, op: &Op) -> Vec<Effect> {
    match *op {
        Op::Up { a, groups, cap } => h.up(agent(a, groups, cap)),
        Op::Down(a) => h.down(a.into()),
        Op::Status(a, s) => {
            let s = [Status::Online, Status::Away, Status::Offline][s as usize];
            h.status(a.into(), s)
        }
        Op::Changed { a, groups, cap } => h.changed(agent(a, groups, cap)),
        Op::Removed(a) => h.removed(a.into()),
        Op::Enqueue {
            c,
            g,
            preferred,
            prio,
        } => h.enqueue_with(
            c.into(),
            GROUPS[g as usize],
            preferred.map(u128::from),
            priority(prio),
        ),
        Op::Adjust {
            c,
            g,
            preferred,
            prio,
        } => {
            let (_, fx) = h.s.adjust(
                cv(c.into()),
                g.map(|g| GROUPS[g as usize].to_string()),
                preferred.map(|a| ag(a.into())),
                prio.map(priority),
                h.now,
            );
            h.run(fx)
        }
        Op::Accept(c, a) => h.accept(c.into(), a.into()),
        Op::Decline(c, a) => h.decline(c.into(), a.into()),
        Op::TransferToAgent { c, by, to } => {
            let by = by_info(h, by);
            h.transfer(c.into(), &by, Target::Agent(ag(to.into())))
        }
        Op::TransferToGroup { c, by, g } => {
            let by = by_info(h, by);
            let target = Target::Group {
                name: GROUPS[g as usize].into(),
                exists: true,
            };
            h.transfer(c.into(), &by, target)
        }
        Op::Release(c) => h.release(c.into()),
        Op::Tick(ms) => h.advance(ms),
    }
}

fn by_info(h: &Harness, a: u8) -> AgentInfo {
    h.s.agents
        .get(&ag(a.into()))
        .map(|s| s.info.clone())
        .unwrap_or_else(|| agent(a, 0, 0))
}

/// Everything that must hold between two inputs.
fn check_invariants(s: &RoutingState, now: i64) {
    assert!(
        s.pending.is_empty(),
        "every store request was answered: {:?}",
        s.pending
    );
    // One place per conversation.
    for conv in s.waiting.keys() {
        assert!(!s.held.contains_key(conv), "{conv} waits and is held");
    }
    // Queues hold exactly the waiting conversations, by priority.
    let mut queued = 0;
    for (group, q) in &s.queues {
        let unique: BTreeSet<_> = q.iter().collect();
        assert_eq!(unique.len(), q.len(), "no conversation twice in {group}");
        for c in q {
            assert_eq!(&s.waiting[c].group, group, "{c} queued in its own group");
        }
        for pair in q.iter().collect::<Vec<_>>().windows(2) {
            assert!(
                s.waiting[pair[0]].priority >= s.waiting[pair[1]].priority,
                "queue {group} is ordered by priority"
            );
        }
        queued += q.len();
    }
    assert_eq!(
        queued,
        s.waiting.len(),
        "every waiting conversation is queued"
    );
    // Offers: to one available agent, who counts it, and not lapsed.
    let mut offered: BTreeMap<Uuid, Uuid> = BTreeMap::new();
    for (c, w) in &s.waiting {
        if let Some((a, deadline)) = w.offer {
            let slot = s.agents.get(&a).expect("offered to a known agent");
            assert!(slot.offers.contains(c), "agent {a} counts its offer of {c}");
            assert!(slot.available(), "offered to an available agent only");
            assert!(deadline > now, "lapsed offers moved on");
            offered.insert(*c, a);
        }
    }
    let mut active: BTreeMap<Uuid, Uuid> = BTreeMap::new();
    for (id, slot) in &s.agents {
        for c in &slot.offers {
            assert_eq!(offered.get(c), Some(id), "{id} counts only its own offers");
        }
        for c in &slot.active {
            assert!(
                active.insert(*c, *id).is_none(),
                "never active for two agents: {c}"
            );
            assert_eq!(s.held.get(c).map(|h| h.agent), Some(*id));
        }
    }
    for (c, h) in &s.held {
        assert_eq!(
            active.get(c),
            Some(&h.agent),
            "held means active for its agent"
        );
        assert!(
            !offered.contains_key(c),
            "a held conversation is offered to nobody"
        );
    }
}

fn check_step(
    before_removed: &BTreeSet<Uuid>,
    h: &Harness,
    op: &Op,
    fx: &[Effect],
) -> BTreeSet<Uuid> {
    let mut removed = before_removed.clone();
    match *op {
        Op::Removed(a) => {
            removed.insert(ag(a.into()));
        }
        Op::Up { a, .. } => {
            removed.remove(&ag(a.into()));
        }
        _ => {}
    }
    for (conv, a) in offers(fx) {
        assert!(
            !removed.contains(&a),
            "a removed agent is offered nothing ({conv})"
        );
        if let Some(slot) = h.s.agents.get(&a) {
            assert!(
                slot.load() <= slot.info.capacity,
                "an offer never takes an agent over capacity: {a} {op:?}"
            );
        }
    }
    for a in &removed {
        assert!(!h.s.agents.contains_key(a), "a removed agent has no slot");
        assert!(
            h.s.held.values().all(|h| h.agent != *a),
            "a removed agent holds nothing"
        );
        assert!(
            fx.iter()
                .all(|e| !matches!(e, Effect::Assigned { agent, .. } if agent == a)),
            "a removed agent is given nothing"
        );
    }
    removed
}

/// The queries the store can answer the same way: queues, holders, priorities.
fn same_store_view(a: &RoutingState, b: &RoutingState) {
    for g in GROUPS {
        assert_eq!(a.queue(g), b.queue(g), "queue {g} rebuilt in order");
    }
    for c in 1..=CONVS {
        let c = cv(c.into());
        assert_eq!(a.holder(c), b.holder(c), "holder of {c} rebuilt");
        let prio = |s: &RoutingState| {
            s.waiting
                .get(&c)
                .map(|w| w.priority)
                .or_else(|| s.held.get(&c).map(|h| h.priority))
        };
        assert_eq!(prio(a), prio(b), "priority of {c} rebuilt");
    }
    assert_eq!(a.snapshot(), b.snapshot(), "the same snapshot again");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn invariants_hold_after_every_input(
        ops in proptest::collection::vec(op(), 1..60),
        outcomes in proptest::collection::vec(outcome(), 0..20),
        auto_accept in proptest::bool::weighted(0.2),
    ) {
        let mut h = Harness::with(Config { auto_accept, ..cfg() });
        h.outcomes = outcomes.into();
        let mut removed = BTreeSet::new();
        for op in &ops {
            let fx = step(&mut h, op);
            check_invariants(&h.s, h.now);
            removed = check_step(&removed, &h, op, &fx);
            let answers = fx.iter().filter(|e| matches!(e, Effect::Answer(_))).count();
            let asks = matches!(op, Op::Accept(..) | Op::TransferToAgent { .. } | Op::TransferToGroup { .. });
            prop_assert_eq!(answers, usize::from(asks), "accept and transfer are answered once");
        }
    }

    #[test]
    fn restore_of_a_snapshot_rebuilds_the_same_state(
        ops in proptest::collection::vec(op(), 1..60),
        outcomes in proptest::collection::vec(outcome(), 0..20),
    ) {
        let mut h = Harness::new();
        h.outcomes = outcomes.into();
        for op in &ops {
            step(&mut h, op);
        }
        let restored = RoutingState::restore(cfg(), h.s.snapshot(), h.now);
        check_invariants(&restored, h.now);
        same_store_view(&h.s, &restored);
        prop_assert!(
            restored.agents.values().all(|s| !s.available() && s.grace_until.is_some()),
            "restored agents wait offline for their grace period"
        );
    }

    #[test]
    fn queues_are_ordered_by_priority_then_arrival(prios in proptest::collection::vec(0..4u8, 1..12)) {
        let mut h = Harness::new();
        for (i, p) in prios.iter().enumerate() {
            h.enqueue_with(i as u128, "g", None, priority(*p));
        }
        let mut expected: Vec<(usize, Priority)> =
            prios.iter().map(|p| priority(*p)).enumerate().collect();
        // A stable sort keeps arrival order within one priority.
        expected.sort_by_key(|x| std::cmp::Reverse(x.1));
        let expected: Vec<Uuid> = expected.iter().map(|(i, _)| cv(*i as u128)).collect();
        prop_assert_eq!(h.s.queue("g"), expected);
    }

    #[test]
    fn lapsed_offers_visit_every_agent_before_coming_back(n in 2..6u128, start in 0..5_000i64) {
        let mut h = Harness::new();
        for a in 1..=n {
            h.up(info(a, &["g"], 5));
        }
        h.now = start;
        h.enqueue(1, "g");
        let mut seen = vec![h.s.offered_to(cv(1)).expect("offered")];
        for _ in 1..n {
            let fx = h.advance(OFFER_MS);
            let (_, to) = offers(&fx)[0];
            prop_assert!(!seen.contains(&to), "the lapsed agents are skipped: {:?} then {}", seen, to);
            seen.push(to);
        }
        let fx = h.advance(OFFER_MS);
        prop_assert_eq!(offers(&fx).len(), 1, "after everyone, it goes round again");
    }

    #[test]
    fn the_sticky_agent_is_picked_whenever_it_can_take_it(
        loads in proptest::collection::vec((0..4u32, 1..4u32, any::<bool>(), any::<bool>()), 1..6),
        preferred in 0..6usize,
    ) {
        let cands: Vec<Candidate> = loads
            .iter()
            .enumerate()
            .map(|(i, (load, capacity, in_group, available))| Candidate {
                id: Uuid::from_u128(i as u128 + 1),
                load: *load,
                capacity: *capacity,
                in_group: *in_group,
                available: *available,
            })
            .collect();
        let p = Uuid::from_u128(preferred as u128 + 1);
        let eligible = |c: &Candidate| c.available && c.load < c.capacity;
        let pick = pick_agent(&cands, Some(p), &[]);
        match cands.iter().find(|c| c.id == p) {
            Some(c) if eligible(c) => prop_assert_eq!(pick, Some(p)),
            _ => {
                let best = cands
                    .iter()
                    .filter(|c| eligible(c) && c.in_group)
                    .map(|c| (c.load, c.id))
                    .min();
                prop_assert_eq!(pick, best.map(|b| b.1), "else the least loaded of the group");
            }
        }
    }
}
