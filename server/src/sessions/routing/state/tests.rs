//! Unit tests of the routing state, one behaviour each, driven through its inputs.

use kefu_proto::v1::AgentStatus as Status;

use super::{
    Config, Effect, OpenConversation, Outcome, RoutingState, Snapshot, StoreOp, Target, TransferTo,
    harness::*,
};
use crate::{sessions::routing::RouteError, store::Priority};

fn conflict(fx: &[Effect]) -> bool {
    matches!(answer(fx), Some(Err(RouteError::Conflict(_))))
}

#[test]
fn a_new_conversation_goes_to_the_least_loaded_agent_of_its_group() {
    let mut h = Harness::new();
    h.up(info(1, &["sales"], 5));
    h.up(info(2, &["sales"], 5));
    h.up(info(3, &["support"], 5));
    h.enqueue(1, "sales");
    h.accept(1, 1);
    let fx = h.enqueue(2, "sales");
    assert_eq!(
        offers(&fx),
        vec![(cv(2), ag(2))],
        "agent 1 holds one already, agent 3 is in another group"
    );
    assert!(
        fx.contains(&Effect::Offer {
            conv: cv(2),
            agent: ag(2),
            expires_in_ms: Some(OFFER_MS)
        }),
        "the offer carries its timeout"
    );
}

#[test]
fn with_nobody_online_a_conversation_waits_and_its_shopper_hears_the_position() {
    let mut h = Harness::new();
    h.enqueue(1, "sales");
    let fx = h.enqueue(2, "sales");
    assert!(offers(&fx).is_empty(), "nobody is online");
    assert!(
        fx.contains(&Effect::Position {
            conv: cv(2),
            visitor: vi(2),
            group: "sales".into(),
            position: 2
        }),
        "the second shopper is told it is second: {fx:?}"
    );
    assert_eq!(h.s.position(cv(1)), Some(1));
    assert_eq!(h.s.position(cv(2)), Some(2));
    assert_eq!(h.s.online_in("sales"), 0);
}

#[test]
fn queues_are_ordered_by_priority_then_arrival() {
    let mut h = Harness::new();
    h.enqueue_with(1, "g", None, Priority::Normal);
    h.enqueue_with(2, "g", None, Priority::Low);
    h.enqueue_with(3, "g", None, Priority::Urgent);
    h.enqueue_with(4, "g", None, Priority::Normal);
    h.enqueue_with(5, "g", None, Priority::High);
    assert_eq!(
        h.s.queue("g"),
        vec![cv(3), cv(5), cv(1), cv(4), cv(2)],
        "higher priority first, equal priority in arrival order"
    );
    let fx = h.up(info(1, &["g"], 1));
    assert_eq!(
        offers(&fx),
        vec![(cv(3), ag(1))],
        "the head is offered first"
    );
}

#[test]
fn the_sticky_agent_is_offered_first_even_outside_the_group() {
    let mut h = Harness::new();
    h.up(info(1, &["sales"], 5));
    h.up(info(2, &["support"], 5));
    let fx = h.enqueue_with(1, "sales", Some(2), Priority::Normal);
    assert_eq!(offers(&fx), vec![(cv(1), ag(2))], "the previous agent wins");
}

#[test]
fn a_sticky_agent_at_capacity_or_away_leaves_it_to_the_group() {
    let mut h = Harness::new();
    h.up(info(1, &["sales"], 5));
    h.up(info(2, &["sales"], 1));
    h.enqueue(1, "sales");
    h.accept(1, 2);
    let fx = h.enqueue_with(2, "sales", Some(2), Priority::Normal);
    assert_eq!(offers(&fx), vec![(cv(2), ag(1))], "agent 2 is full");
    h.up(info(3, &["sales"], 5));
    h.status(3, Status::Away);
    let fx = h.enqueue_with(3, "sales", Some(3), Priority::Normal);
    assert_eq!(offers(&fx), vec![(cv(3), ag(1))], "agent 3 is away");
}

#[test]
fn capacity_bounds_offers_and_the_rest_wait_their_turn() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 2));
    for c in 1..=4 {
        h.enqueue(c, "g");
    }
    assert_eq!(h.s.offered_to(cv(1)), Some(ag(1)));
    assert_eq!(h.s.offered_to(cv(2)), Some(ag(1)));
    assert_eq!(h.s.offered_to(cv(3)), None, "agent 1 is at capacity");
    assert_eq!(
        h.s.position(cv(3)),
        Some(1),
        "offered ones no longer count as ahead"
    );
    assert_eq!(h.s.position(cv(4)), Some(2));
}

#[test]
fn accepting_an_offer_assigns_through_the_store_then_answers() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.enqueue(1, "g");
    h.now += 1_500;
    let fx = h.accept(1, 1);
    assert_eq!(
        fx.first(),
        Some(&Effect::Store(StoreOp::Assign {
            conv: cv(1),
            agent: ag(1)
        })),
        "the store decides first"
    );
    assert!(
        fx.contains(&Effect::Assigned {
            conv: cv(1),
            agent: ag(1),
            agent_name: "agent 1".into(),
            visitor: vi(1),
            agents: vec![ag(1), ag(1)],
            waited_ms: 1_500,
        }),
        "everyone hears who has it, and how long it waited: {fx:?}"
    );
    assert_eq!(answer(&fx), Some(Ok(())));
    assert_eq!(h.s.holder(cv(1)), Some(ag(1)));
    assert!(h.s.queue("g").is_empty());
}

#[test]
fn an_accept_the_store_refuses_is_a_conflict_and_the_conversation_is_forgotten() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.enqueue(1, "g");
    h.outcomes.push_back(Outcome::Refused);
    let fx = h.accept(1, 1);
    assert!(conflict(&fx), "another router got there first: {fx:?}");
    assert_eq!(h.s.holder(cv(1)), None);
    assert!(h.s.queue("g").is_empty(), "someone else has it");
    assert!(
        conflict(&h.accept(1, 1)),
        "it is no longer waiting for anyone"
    );
}

#[test]
fn an_accept_the_store_fails_leaves_the_conversation_waiting_with_its_offer() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.enqueue(1, "g");
    h.enqueue(2, "g");
    h.outcomes
        .push_back(Outcome::Failed(RouteError::Internal("disk".into())));
    let fx = h.accept(1, 1);
    assert_eq!(answer(&fx), Some(Err(RouteError::Internal("disk".into()))));
    assert_eq!(
        h.s.queue("g"),
        vec![cv(1), cv(2)],
        "same place in the queue"
    );
    assert_eq!(h.s.offered_to(cv(1)), Some(ag(1)), "the offer still stands");
    assert_eq!(answer(&h.accept(1, 1)), Some(Ok(())), "a retry works");
}

#[test]
fn accepting_unoffered_conversations_follows_group_and_capacity_rules() {
    let mut h = Harness::new();
    h.enqueue(1, "g");
    h.enqueue(2, "g");
    h.enqueue(3, "g");
    assert!(
        matches!(answer(&h.accept(1, 1)), Some(Err(RouteError::Forbidden(_)))),
        "an agent without a connection may not accept"
    );
    // Agent 1 away so nothing is offered to it, in another group.
    h.up(info(1, &["other"], 1));
    h.up(info(2, &["g"], 1));
    h.status(2, Status::Away);
    assert!(
        matches!(answer(&h.accept(1, 1)), Some(Err(RouteError::Forbidden(_)))),
        "not in the group"
    );
    assert_eq!(answer(&h.accept(1, 2)), Some(Ok(())), "in the group, free");
    assert!(conflict(&h.accept(2, 2)), "at capacity");
    h.up(supervisor(3, &[], 0));
    h.status(3, Status::Away);
    assert_eq!(
        answer(&h.accept(2, 3)),
        Some(Ok(())),
        "a supervisor takes anything"
    );
}

#[test]
fn a_declined_offer_moves_on_and_the_decliner_is_skipped() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.up(info(2, &["g"], 5));
    h.enqueue(1, "g");
    assert_eq!(h.s.offered_to(cv(1)), Some(ag(1)), "lowest id on a tie");
    assert!(
        h.decline(1, 2).is_empty(),
        "only the offered agent can decline"
    );
    let fx = h.decline(1, 1);
    assert_eq!(withdrawn(&fx), vec![(cv(1), ag(1))]);
    assert_eq!(offers(&fx), vec![(cv(1), ag(2))]);
}

#[test]
fn a_lapsed_offer_moves_on_and_comes_back_when_everyone_let_it_lapse() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.up(info(2, &["g"], 5));
    h.enqueue(1, "g");
    assert!(h.advance(OFFER_MS - 1).is_empty(), "not yet");
    let fx = h.advance(1);
    assert_eq!(withdrawn(&fx), vec![(cv(1), ag(1))]);
    assert_eq!(offers(&fx), vec![(cv(1), ag(2))], "the next agent");
    let fx = h.advance(OFFER_MS);
    assert_eq!(
        offers(&fx),
        vec![(cv(1), ag(1))],
        "everyone had it once: go round again"
    );
}

#[test]
fn a_disconnected_agent_loses_offers_at_once_and_conversations_after_the_grace() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.up(info(1, &["g"], 5));
    h.enqueue(1, "g");
    h.accept(1, 1);
    h.enqueue(2, "g");
    assert!(h.down(1).is_empty(), "one connection left");
    let fx = h.down(1);
    assert_eq!(withdrawn(&fx), vec![(cv(2), ag(1))], "offers go at once");
    assert_eq!(h.s.holder(cv(1)), Some(ag(1)), "conversations stay a while");
    assert!(h.advance(GRACE_MS - 1).is_empty());
    let fx = h.advance(1);
    assert_eq!(
        fx[..3],
        [
            Effect::Presence {
                agent: ag(1),
                status: Status::Offline
            },
            Effect::Store(StoreOp::Requeue {
                conv: cv(1),
                group: "g".into()
            }),
            Effect::AgentLeft { conv: cv(1) },
        ],
        "offline, then back to the queue with a word to the shopper"
    );
    assert_eq!(h.s.queue("g"), vec![cv(2), cv(1)]);
    let fx = h.up(info(2, &["g"], 5));
    assert!(
        offers(&fx).contains(&(cv(1), ag(2))),
        "another agent takes it: {fx:?}"
    );
}

#[test]
fn a_reconnect_within_the_grace_keeps_everything_and_shows_held_offers_again() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.enqueue(1, "g");
    h.accept(1, 1);
    h.down(1);
    h.now += 1_000;
    h.up(info(1, &["g"], 5));
    assert!(h.advance(GRACE_MS).is_empty(), "the grace was cancelled");
    assert_eq!(h.s.holder(cv(1)), Some(ag(1)));
    h.enqueue(2, "g");
    h.now += 10_000;
    let fx = h.up(info(1, &["g"], 5));
    assert!(
        fx.contains(&Effect::OfferAgain {
            conv: cv(2),
            agent: ag(1),
            expires_in_ms: OFFER_MS - 10_000
        }),
        "a second connection sees the pending offer with the time left: {fx:?}"
    );
}

#[test]
fn away_agents_lose_offers_and_coming_back_online_offers_again() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.enqueue(1, "g");
    let fx = h.status(1, Status::Away);
    assert_eq!(
        fx[0],
        Effect::Presence {
            agent: ag(1),
            status: Status::Away
        }
    );
    assert_eq!(withdrawn(&fx), vec![(cv(1), ag(1))]);
    assert!(offers(&fx).is_empty(), "nobody else");
    assert_eq!(h.s.online_in("g"), 0);
    let fx = h.status(1, Status::Online);
    assert_eq!(offers(&fx), vec![(cv(1), ag(1))]);
    assert!(
        h.status(9, Status::Online).is_empty(),
        "an unknown agent is ignored"
    );
}

#[test]
fn a_grown_capacity_is_used_at_once() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 1));
    h.enqueue(1, "g");
    h.enqueue(2, "g");
    assert_eq!(h.s.offered_to(cv(2)), None);
    let fx = h.changed(info(1, &["g"], 2));
    assert_eq!(offers(&fx), vec![(cv(2), ag(1))]);
}

#[test]
fn leaving_a_group_withdraws_its_offers_and_they_go_to_others() {
    let mut h = Harness::new();
    h.up(info(1, &["g", "h"], 5));
    h.enqueue(1, "g");
    h.accept(1, 1);
    h.enqueue(2, "h");
    h.enqueue(3, "g");
    assert_eq!(h.s.offered_to(cv(3)), Some(ag(1)));
    h.up(info(2, &["g"], 5));
    let fx = h.changed(info(1, &["h"], 5));
    assert_eq!(withdrawn(&fx), vec![(cv(3), ag(1))]);
    assert_eq!(offers(&fx), vec![(cv(3), ag(2))], "re-routed to the group");
    assert_eq!(
        h.s.offered_to(cv(2)),
        Some(ag(1)),
        "its other group's offer stays"
    );
    assert_eq!(h.s.holder(cv(1)), Some(ag(1)), "held conversations stay");
    assert!(
        h.changed(info(9, &["g"], 5)).is_empty(),
        "an agent never seen is a no-op"
    );
}

#[test]
fn a_removed_agent_hands_everything_back_at_once_and_is_forgotten() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.up(info(2, &["g"], 5));
    h.enqueue(1, "g");
    h.accept(1, 1);
    h.enqueue(2, "g");
    h.enqueue(3, "g");
    assert_eq!(h.s.offered_to(cv(3)), Some(ag(1)));
    let fx = h.removed(1);
    assert_eq!(withdrawn(&fx)[0], (cv(3), ag(1)));
    assert!(
        fx.contains(&Effect::Presence {
            agent: ag(1),
            status: Status::Offline
        }) && fx.contains(&Effect::Store(StoreOp::Requeue {
            conv: cv(1),
            group: "g".into()
        })) && fx.contains(&Effect::AgentLeft { conv: cv(1) }),
        "as when the grace runs out, but now: {fx:?}"
    );
    assert!(
        offers(&fx).iter().all(|(_, a)| *a == ag(2)),
        "nothing goes back to it"
    );
    assert_eq!(h.s.holder(cv(1)), None);
    assert!(!h.s.agents.contains_key(&ag(1)), "its slot is gone");
    assert!(
        h.down(1).is_empty(),
        "its sockets closing later change nothing"
    );
    assert!(
        matches!(answer(&h.accept(1, 1)), Some(Err(_))),
        "it can take nothing"
    );
    assert!(h.removed(1).is_empty(), "removing twice is a no-op");
}

#[test]
fn transfer_to_an_online_agent_goes_through_the_store() {
    let mut h = Harness::new();
    let one = info(1, &["g"], 5);
    h.up(one.clone());
    h.up(info(2, &["g"], 5));
    h.enqueue(1, "g");
    h.accept(1, 1);
    let fx = h.transfer(1, &one, Target::Agent(ag(2)));
    assert_eq!(
        fx[0],
        Effect::Store(StoreOp::Reassign {
            conv: cv(1),
            from: ag(1),
            to: ag(2)
        })
    );
    assert!(fx.contains(&Effect::Transferred {
        conv: cv(1),
        visitor: vi(1),
        from: ag(1),
        to: TransferTo::Agent {
            id: ag(2),
            name: "agent 2".into()
        },
        note: "a note".into(),
        by: ag(1),
        by_name: "agent 1".into(),
    }));
    assert_eq!(answer(&fx), Some(Ok(())));
    assert_eq!(h.s.holder(cv(1)), Some(ag(2)));
    assert_eq!(h.s.agents[&ag(1)].load(), 0, "capacity freed");
}

#[test]
fn transfers_are_refused_to_the_wrong_people_and_places() {
    let mut h = Harness::new();
    let one = info(1, &["g"], 5);
    let two = info(2, &["g"], 5);
    h.up(one.clone());
    h.up(two.clone());
    h.enqueue(1, "g");
    h.enqueue(2, "g");
    assert!(
        conflict(&h.transfer(1, &one, Target::Agent(ag(2)))),
        "only assigned conversations move"
    );
    h.accept(1, 1);
    assert!(matches!(
        answer(&h.transfer(1, &two, Target::Agent(ag(2)))),
        Some(Err(RouteError::Forbidden(_)))
    ));
    assert!(conflict(&h.transfer(1, &one, Target::Agent(ag(1)))));
    assert!(
        conflict(&h.transfer(1, &one, Target::Agent(ag(7)))),
        "agent 7 is not online"
    );
    assert!(conflict(&h.transfer(1, &one, Target::Unclear)));
    let unknown = Target::Group {
        name: "nope".into(),
        exists: false,
    };
    assert!(matches!(
        answer(&h.transfer(1, &one, unknown)),
        Some(Err(RouteError::NotFound(_)))
    ));
    h.outcomes.push_back(Outcome::Refused);
    assert!(
        conflict(&h.transfer(1, &one, Target::Agent(ag(2)))),
        "the store saw it change hands"
    );
    assert_eq!(h.s.holder(cv(1)), Some(ag(1)), "nothing moved");
    assert_eq!(
        answer(&h.transfer(1, &supervisor(5, &[], 0), Target::Agent(ag(2)))),
        Some(Ok(())),
        "a supervisor may move anyone's"
    );
}

#[test]
fn transfer_to_a_group_queues_it_there_without_the_previous_agent() {
    let mut h = Harness::new();
    let one = info(1, &["g"], 5);
    h.up(one.clone());
    h.enqueue(1, "g");
    h.accept(1, 1);
    let target = Target::Group {
        name: "h".into(),
        exists: true,
    };
    let fx = h.transfer(1, &one, target.clone());
    assert_eq!(answer(&fx), Some(Ok(())));
    assert!(
        offers(&fx).is_empty(),
        "agent 1 gave it away, nobody else is in h"
    );
    assert_eq!(h.s.queue("h"), vec![cv(1)]);
    let fx = h.up(info(2, &["h"], 5));
    assert_eq!(offers(&fx), vec![(cv(1), ag(2))]);
}

#[test]
fn closing_frees_the_queue_place_or_the_agent() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 1));
    h.enqueue(1, "g");
    h.enqueue(2, "g");
    h.enqueue(3, "g");
    let fx = h.release(1);
    assert_eq!(withdrawn(&fx), vec![(cv(1), ag(1))], "the offer is gone");
    assert_eq!(offers(&fx), vec![(cv(2), ag(1))], "capacity freed");
    h.accept(2, 1);
    let fx = h.release(2);
    assert_eq!(offers(&fx), vec![(cv(3), ag(1))]);
    assert_eq!(h.s.holder(cv(2)), None);
}

#[test]
fn adjusting_moves_a_waiting_conversation_to_another_group() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.up(info(2, &["h"], 5));
    h.enqueue(1, "g");
    h.now += 700;
    let (waiting, fx) = h.s.adjust(cv(1), Some("h".into()), None, None, h.now);
    let fx = h.run(fx);
    assert!(waiting);
    assert_eq!(withdrawn(&fx), vec![(cv(1), ag(1))]);
    assert!(fx.contains(&Effect::MoveInStore {
        conv: cv(1),
        group: "h".into()
    }));
    assert_eq!(offers(&fx), vec![(cv(1), ag(2))]);
    let fx = h.accept(1, 2);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Assigned { waited_ms: 700, .. })),
        "its wait counts from when it first queued"
    );
    let (waiting, fx) = h.s.adjust(cv(1), None, None, Some(Priority::High), h.now);
    assert!(!waiting && fx.is_empty(), "an agent has it");
}

#[test]
fn adjusting_priority_moves_it_up_the_queue_and_is_kept_while_held() {
    let mut h = Harness::new();
    h.enqueue(1, "g");
    h.enqueue(2, "g");
    let (_, fx) = h.s.adjust(cv(2), None, None, Some(Priority::Urgent), h.now);
    h.run(fx);
    assert_eq!(h.s.queue("g"), vec![cv(2), cv(1)]);
    h.up(info(3, &[], 5));
    h.up(info(1, &["g"], 5));
    assert_eq!(h.s.offered_to(cv(2)), Some(ag(1)), "the head goes first");
    let (_, fx) = h.s.adjust(cv(2), None, Some(ag(3)), None, h.now);
    let fx = h.run(fx);
    assert_eq!(withdrawn(&fx), vec![(cv(2), ag(1))]);
    assert_eq!(h.s.offered_to(cv(2)), Some(ag(3)), "the preferred agent");
    h.accept(2, 3);
    h.s.adjust(cv(2), None, None, Some(Priority::Low), h.now);
    h.removed(3);
    assert_eq!(
        h.s.waiting[&cv(2)].priority,
        Priority::Low,
        "the priority set while held is used when it queues again"
    );
}

#[test]
fn auto_accept_assigns_without_waiting_for_the_agent() {
    let mut h = Harness::with(Config {
        auto_accept: true,
        ..cfg()
    });
    h.up(info(1, &["g"], 1));
    let fx = h.enqueue(1, "g");
    assert_eq!(
        fx.iter()
            .filter(|e| !matches!(e, Effect::Queued { .. }))
            .take(2)
            .cloned()
            .collect::<Vec<_>>(),
        vec![
            Effect::Offer {
                conv: cv(1),
                agent: ag(1),
                expires_in_ms: None
            },
            Effect::Store(StoreOp::Assign {
                conv: cv(1),
                agent: ag(1)
            }),
        ],
        "announced, then assigned"
    );
    assert_eq!(h.s.holder(cv(1)), Some(ag(1)));
    let fx = h.enqueue(2, "g");
    assert!(offers(&fx).is_empty(), "capacity still counts");
}

#[test]
fn an_auto_assignment_the_store_refuses_frees_the_agent_for_the_next() {
    let mut h = Harness::with(Config {
        auto_accept: true,
        ..cfg()
    });
    h.enqueue(1, "g");
    h.enqueue(2, "g");
    h.outcomes.push_back(Outcome::Refused);
    let fx = h.up(info(1, &["g"], 1));
    assert_eq!(offers(&fx), vec![(cv(1), ag(1)), (cv(2), ag(1))]);
    assert_eq!(h.s.holder(cv(2)), Some(ag(1)));
    assert_eq!(h.s.holder(cv(1)), None, "someone else has it");
}

#[test]
fn restore_gives_assigned_conversations_to_offline_agents_with_a_grace() {
    let snapshot = Snapshot {
        conversations: vec![
            OpenConversation {
                id: cv(1),
                group: "g".into(),
                visitor: vi(1),
                agent: Some(ag(1)),
                priority: Priority::Normal,
            },
            OpenConversation {
                id: cv(2),
                group: "g".into(),
                visitor: vi(2),
                agent: None,
                priority: Priority::Normal,
            },
            OpenConversation {
                id: cv(3),
                group: "g".into(),
                visitor: vi(3),
                agent: None,
                priority: Priority::High,
            },
            OpenConversation {
                id: cv(4),
                group: "g".into(),
                visitor: vi(4),
                agent: Some(ag(9)),
                priority: Priority::Normal,
            },
        ],
        agents: vec![info(1, &["g"], 5)],
    };
    let mut h = Harness::of(RoutingState::restore(cfg(), snapshot, 0));
    assert_eq!(h.s.holder(cv(1)), Some(ag(1)));
    assert_eq!(
        h.s.queue("g"),
        vec![cv(3), cv(2), cv(4)],
        "by priority; one whose agent is unknown waits"
    );
    assert_eq!(h.s.online_in("g"), 0, "everyone starts offline");
    let fx = h.s.kick(0);
    assert!(offers(&fx).is_empty(), "nobody to offer to");
    let fx = h.advance(GRACE_MS);
    assert!(
        fx.contains(&Effect::Store(StoreOp::Requeue {
            conv: cv(1),
            group: "g".into()
        })),
        "an agent who does not come back loses it"
    );
}

#[test]
fn restore_then_reconnect_keeps_the_agents_conversations() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 2));
    h.enqueue(1, "g");
    h.accept(1, 1);
    h.enqueue(2, "g");
    h.enqueue(3, "g");
    let mut r = Harness::of(RoutingState::restore(cfg(), h.s.snapshot(), 0));
    let fx = r.up(info(1, &["g"], 2));
    assert_eq!(r.s.holder(cv(1)), Some(ag(1)));
    assert_eq!(
        offers(&fx),
        vec![(cv(2), ag(1))],
        "one slot left, the oldest first"
    );
    assert!(
        r.advance(GRACE_MS)
            .iter()
            .all(|e| !matches!(e, Effect::AgentLeft { .. }))
    );
}

#[test]
fn enqueueing_a_held_conversation_changes_nothing() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 5));
    h.enqueue(1, "g");
    h.accept(1, 1);
    assert!(h.enqueue(1, "g").is_empty());
    assert!(h.s.queue("g").is_empty());
}

#[test]
fn gauges_count_queued_offered_and_assigned() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 2));
    h.enqueue(1, "g");
    h.enqueue(2, "g");
    h.enqueue(3, "g");
    h.accept(1, 1);
    let g = h.s.gauges();
    assert_eq!((g.queued, g.offered, g.assigned), (1, 1, 1));
    assert_eq!(g.queues, vec![("g".to_string(), 2)]);
}

#[test]
fn online_in_counts_connected_online_agents_of_the_group() {
    let mut h = Harness::new();
    h.up(info(1, &["g"], 2));
    h.up(info(2, &["g", "h"], 2));
    h.up(info(3, &["h"], 2));
    h.status(2, Status::Offline);
    assert_eq!(h.s.online_in("g"), 1);
    assert_eq!(h.s.online_in("h"), 1);
    h.down(3);
    assert_eq!(h.s.online_in("h"), 0);
}
