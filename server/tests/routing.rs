//! Routing rules over real sockets: least load, capacity, queue positions, sticky agent,
//! offer timeout and decline, transfer with a note, close, reopen, idle close, the
//! reconnect grace period, and concurrent accepts that never double-assign.

mod common;

use std::collections::HashMap;

use common::*;
use kefu_proto::v1::{
    self as pb, client_envelope::Kind as In, conversation_event::Kind as Ev,
    server_envelope::Kind as Out,
};
use kefu_server::store::{Role, now_ms};

async fn offered(ws: &mut Ws) -> String {
    ws.recv_event(|e| matches!(e.kind, Some(Ev::Offered(_))).then(|| e.conversation_id.clone()))
        .await
}

async fn queued_position(ws: &mut Ws, conv: &str) -> u32 {
    ws.recv_event(|e| match &e.kind {
        Some(Ev::Queued(q)) if e.conversation_id == conv => Some(q.position),
        _ => None,
    })
    .await
}

async fn accept(ws: &mut Ws, conv: &str) {
    ws.send(In::Accept(pb::AcceptOffer {
        conversation_id: conv.into(),
    }))
    .await;
    let c = conv.to_string();
    ws.recv_event(move |e| {
        (e.conversation_id == c && matches!(e.kind, Some(Ev::Assigned(_)))).then_some(())
    })
    .await;
}

async fn assigned_agent(srv: &TestServer, conv: &str) -> Option<String> {
    srv.store
        .conversation(conv.parse().unwrap())
        .await
        .unwrap()
        .agent_id
        .map(|a| a.to_string())
}

#[tokio::test]
async fn least_loaded_agent_first_capacity_respected_and_queue_positions_move() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 2).await;
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 1).await;
    let mut a = srv.agent_ws(&ann).await;
    let mut b = srv.agent_ws(&bob).await;

    // Tie at load 0: the lower id (ann, created first) gets it.
    let (_s1, _, c1) = shopper_opens(&srv, "one").await;
    assert_eq!(offered(&mut a).await, c1);
    accept(&mut a, &c1).await;
    // ann holds 1, bob 0: bob.
    let (_s2, _, c2) = shopper_opens(&srv, "two").await;
    assert_eq!(
        offered(&mut b).await,
        c2,
        "least-loaded agent gets the offer"
    );
    accept(&mut b, &c2).await;
    // bob is at capacity 1, ann has room.
    let (_s3, _, c3) = shopper_opens(&srv, "three").await;
    assert_eq!(offered(&mut a).await, c3, "an agent at capacity is skipped");
    accept(&mut a, &c3).await;

    // Everyone is full: the next two wait, told their positions.
    let (mut s4, _, c4) = shopper_opens(&srv, "four").await;
    assert_eq!(queued_position(&mut s4, &c4).await, 1);
    let (mut s5, _, c5) = shopper_opens(&srv, "five").await;
    assert_eq!(queued_position(&mut s5, &c5).await, 2);

    // ann closes one: the head of the queue goes to her, and the other moves up.
    a.send(In::Close(pb::CloseConversation {
        conversation_id: c1.clone(),
    }))
    .await;
    assert_eq!(
        offered(&mut a).await,
        c4,
        "freed capacity takes the head of the queue"
    );
    assert_eq!(
        queued_position(&mut s5, &c5).await,
        1,
        "the shopper behind moves up"
    );
    accept(&mut a, &c4).await;
    assert_eq!(assigned_agent(&srv, &c4).await, Some(ann.id.clone()));
}

#[tokio::test]
async fn the_previous_agent_gets_a_returning_shopper() {
    let srv = TestServer::start_with(|s| s.routing.reopen_window_secs = 0).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    // Only bob is online for the first conversation.
    let mut b = srv.agent_ws(&bob).await;
    let (mut s, _, c1) = shopper_opens(&srv, "first visit").await;
    assert_eq!(offered(&mut b).await, c1);
    accept(&mut b, &c1).await;
    b.send(In::Close(pb::CloseConversation {
        conversation_id: c1.clone(),
    }))
    .await;
    s.recv_event(|e| matches!(e.kind, Some(Ev::Closed(_))).then_some(()))
        .await;

    // ann comes online; by load and id she would win, but bob served this shopper before.
    let _ann_online = srv.agent_ws(&ann).await;
    let ack = s.say("", "second", "I'm back").await;
    assert_ne!(
        ack.conversation_id, c1,
        "outside the reopen window a new conversation opens"
    );
    assert_eq!(
        offered(&mut b).await,
        ack.conversation_id,
        "sticky: the previous agent is offered first"
    );
    accept(&mut b, &ack.conversation_id).await;
    assert_eq!(
        assigned_agent(&srv, &ack.conversation_id).await,
        Some(bob.id.clone())
    );
}

#[tokio::test]
async fn an_unanswered_offer_moves_on_and_a_declined_one_too() {
    let srv = TestServer::start_with(|s| s.routing.offer_timeout_secs = 1).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let mut b = srv.agent_ws(&bob).await;

    let (_s1, _, c1) = shopper_opens(&srv, "anyone?").await;
    assert_eq!(offered(&mut a).await, c1);
    // ann ignores it: it is withdrawn from her and offered to bob.
    a.recv_event(|e| {
        (e.conversation_id == c1 && matches!(e.kind, Some(Ev::OfferWithdrawn(_)))).then_some(())
    })
    .await;
    assert_eq!(
        offered(&mut b).await,
        c1,
        "the lapsed offer moves to the next agent"
    );
    accept(&mut b, &c1).await;

    // bob now has one; a new chat goes to ann, who declines: bob gets it.
    let (_s2, _, c2) = shopper_opens(&srv, "hello?").await;
    assert_eq!(offered(&mut a).await, c2);
    a.send(In::Decline(pb::DeclineOffer {
        conversation_id: c2.clone(),
    }))
    .await;
    assert_eq!(offered(&mut b).await, c2, "a declined offer moves on");
    accept(&mut b, &c2).await;

    // Accepting something no longer offered is a typed conflict.
    a.send(In::Accept(pb::AcceptOffer {
        conversation_id: c2.clone(),
    }))
    .await;
    assert_eq!(a.recv_error().await.code, pb::ErrorCode::Conflict as i32);
}

#[tokio::test]
async fn transfer_to_an_agent_with_a_note_and_to_a_group() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let cat = srv.agent("cat", Role::Agent, &["after-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let (mut s, _, conv) = shopper_opens(&srv, "my order is late").await;
    assert_eq!(a.accept_next_offer().await, conv);
    let mut b = srv.agent_ws(&bob).await;
    let mut c = srv.agent_ws(&cat).await;

    a.send(In::Transfer(pb::TransferConversation {
        conversation_id: conv.clone(),
        to_agent_id: bob.id.clone(),
        to_group: String::new(),
        note: "VIP, promised a refund".into(),
    }))
    .await;
    let t = b
        .recv_event(|e| match &e.kind {
            Some(Ev::Transferred(t)) => Some(t.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        t.note, "VIP, promised a refund",
        "the receiving agent sees the note"
    );
    let note = b
        .recv_message(|m| m.client_msg_id.starts_with("transfer-note"))
        .await;
    assert!(matches!(
        note.body.unwrap().kind,
        Some(pb::message_body::Kind::PrivateNote(_))
    ));
    assert_eq!(assigned_agent(&srv, &conv).await, Some(bob.id.clone()));

    // The shopper is told of the transfer, without the note, and never gets the note.
    let seen = s
        .recv_until(|k| match k {
            Out::Event(e) => match &e.kind {
                Some(Ev::Transferred(t)) => Some(t.clone()),
                _ => None,
            },
            Out::Message(m) if m.client_msg_id.starts_with("transfer-note") => {
                panic!("note leaked to the shopper")
            }
            _ => None,
        })
        .await;
    assert!(
        seen.note.is_empty(),
        "the shopper's copy of the event carries no note"
    );
    b.say(&conv, "b1", "Hi, I'm taking over").await;
    s.recv_message(|m| text_of(m) == Some("Hi, I'm taking over"))
        .await;

    // ann no longer may write there.
    a.send_text(&conv, "late", "still here?").await;
    assert_eq!(a.recv_error().await.code, pb::ErrorCode::Forbidden as i32);

    // bob sends it to after-sales: cat is offered it.
    b.send(In::Transfer(pb::TransferConversation {
        conversation_id: conv.clone(),
        to_agent_id: String::new(),
        to_group: "after-sales".into(),
        note: "needs a return".into(),
    }))
    .await;
    assert_eq!(
        offered(&mut c).await,
        conv,
        "the group's agent is offered the transferred chat"
    );
    accept(&mut c, &conv).await;
    assert_eq!(assigned_agent(&srv, &conv).await, Some(cat.id.clone()));
}

#[tokio::test]
async fn close_by_agent_and_shopper_and_reopen_by_writing_again() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let (mut s, _, conv) = shopper_opens(&srv, "question").await;
    a.accept_next_offer().await;

    a.send(In::Close(pb::CloseConversation {
        conversation_id: conv.clone(),
    }))
    .await;
    let reason = s
        .recv_event(|e| match &e.kind {
            Some(Ev::Closed(c)) => Some(c.reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, pb::CloseReason::Agent as i32);

    // Writing again within the window reopens the same conversation, back to the same agent.
    let ack = s.say("", "again", "one more thing").await;
    assert_eq!(
        ack.conversation_id, conv,
        "reopened, not a new conversation"
    );
    s.recv_event(|e| matches!(e.kind, Some(Ev::Reopened(_))).then_some(()))
        .await;
    assert_eq!(
        offered(&mut a).await,
        conv,
        "the reopened chat goes back to its agent"
    );
    accept(&mut a, &conv).await;

    // The shopper ends it.
    s.send(In::Close(pb::CloseConversation {
        conversation_id: conv.clone(),
    }))
    .await;
    let reason = a
        .recv_event(|e| match &e.kind {
            Some(Ev::Closed(c)) if e.conversation_id == conv => Some(c.reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, pb::CloseReason::Shopper as i32);
    // Agents cannot write into a closed conversation.
    a.send_text(&conv, "late", "hello?").await;
    assert_eq!(
        a.recv_error().await.code,
        pb::ErrorCode::Conflict as i32,
        "nobody writes into a closed chat"
    );
}

#[tokio::test]
async fn idle_conversations_close_by_themselves() {
    let srv = TestServer::start_with(|s| s.routing.idle_close_secs = 1).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let (mut s, _, conv) = shopper_opens(&srv, "hi").await;
    a.accept_next_offer().await;
    let reason = s
        .recv_event(|e| match &e.kind {
            Some(Ev::Closed(c)) if e.conversation_id == conv => Some(c.reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, pb::CloseReason::Idle as i32);
}

/// A desk that reconnects before the server saw its old socket die (a network change) must
/// still hear of the offer it holds: the offer is re-sent to the new connection, whose
/// accept then works.
#[tokio::test]
async fn an_offer_pending_when_an_agent_reconnects_reaches_the_new_connection() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let (_s, _, conv) = shopper_opens(&srv, "hi").await;
    assert_eq!(offered(&mut a).await, conv);

    let mut a2 = srv.agent_ws(&ann).await;
    let expires = a2
        .recv_event(|e| match &e.kind {
            Some(Ev::Offered(o)) if e.conversation_id == conv => Some(o.expires_at_ms),
            _ => None,
        })
        .await;
    assert!(expires > now_ms(), "an offer that has not lapsed");
    drop(a);
    accept(&mut a2, &conv).await;
    assert_eq!(assigned_agent(&srv, &conv).await, Some(ann.id.clone()));
}

#[tokio::test]
async fn a_quick_reconnect_keeps_chats_and_a_long_absence_releases_them() {
    let srv = TestServer::start_with(|s| s.routing.agent_grace_secs = 2).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let (_s, _, conv) = shopper_opens(&srv, "hi").await;
    a.accept_next_offer().await;

    // A second device and a dropped first one: still hers.
    let mut a2 = srv.agent_ws(&ann).await;
    drop(a);
    a2.say(&conv, "from-device-2", "still with you").await;
    assert_eq!(assigned_agent(&srv, &conv).await, Some(ann.id.clone()));

    // All her devices gone past the grace period: the chat goes to bob.
    let mut b = srv.agent_ws(&bob).await;
    drop(a2);
    assert_eq!(
        offered(&mut b).await,
        conv,
        "released chats are offered to another agent"
    );
    accept(&mut b, &conv).await;
    assert_eq!(assigned_agent(&srv, &conv).await, Some(bob.id.clone()));
}

#[tokio::test]
async fn concurrent_accepts_never_double_assign() {
    let srv = TestServer::start().await;
    // Twenty shoppers wait while nobody is online.
    let mut convs = Vec::new();
    let mut shoppers = Vec::new();
    for i in 0..20 {
        let (s, _, c) = shopper_opens(&srv, &format!("shopper {i}")).await;
        shoppers.push(s);
        convs.push(c);
    }
    // Five supervisors with capacity 0 are never offered anything, but may take chats from
    // the queue: all of them grab every conversation at once.
    let mut tasks = Vec::new();
    for i in 0..5 {
        let sup = srv
            .agent(&format!("sup{i}"), Role::Supervisor, &["pre-sales"], 0)
            .await;
        let mut ws = srv.agent_ws(&sup).await;
        let convs = convs.clone();
        tasks.push(tokio::spawn(async move {
            for c in &convs {
                ws.send(In::Accept(pb::AcceptOffer {
                    conversation_id: c.clone(),
                }))
                .await;
            }
            // Each accept ends in either our Assigned event or a Conflict error.
            let (mut won, mut lost) = (Vec::new(), 0);
            while won.len() + lost < convs.len() {
                match ws.next().await.expect("open") {
                    Out::Event(e) => {
                        if let Some(Ev::Assigned(a)) = &e.kind
                            && a.agent.as_ref().unwrap().id == sup.id
                        {
                            won.push(e.conversation_id.clone());
                        }
                    }
                    Out::Error(e) => {
                        assert_eq!(
                            e.code,
                            pb::ErrorCode::Conflict as i32,
                            "losers get a conflict: {e:?}"
                        );
                        lost += 1;
                    }
                    _ => {}
                }
            }
            (sup.id, won)
        }));
    }
    let mut owner: HashMap<String, String> = HashMap::new();
    for t in tasks {
        let (sup, won) = t.await.unwrap();
        for c in won {
            assert!(
                owner.insert(c.clone(), sup.clone()).is_none(),
                "conversation {c} assigned twice"
            );
        }
    }
    assert_eq!(
        owner.len(),
        20,
        "every conversation was assigned exactly once"
    );
    for (c, sup) in &owner {
        assert_eq!(
            assigned_agent(&srv, c).await.as_ref(),
            Some(sup),
            "the store agrees on the owner"
        );
    }
    // Each shopper saw exactly one Assigned event.
    for (s, c) in shoppers.iter_mut().zip(&convs) {
        let who = s
            .recv_event(|e| match &e.kind {
                Some(Ev::Assigned(a)) if &e.conversation_id == c => {
                    Some(a.agent.clone().unwrap().id)
                }
                _ => None,
            })
            .await;
        assert_eq!(owner.get(c), Some(&who));
    }
}

#[tokio::test]
async fn auto_accept_assigns_at_once_and_away_agents_get_nothing_new() {
    let srv = TestServer::start_with(|s| s.routing.auto_accept = true).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let sup = srv.agent("sup", Role::Supervisor, &[], 5).await;
    let mut watcher = srv.agent_ws(&sup).await;
    let mut a = srv.agent_ws(&ann).await;
    let mut b = srv.agent_ws(&bob).await;

    // ann steps away: supervisors see her presence change, and new chats go to bob only.
    a.send(In::SetStatus(pb::SetStatus {
        status: pb::AgentStatus::Away as i32,
    }))
    .await;
    let ann_id = ann.id.clone();
    watcher
        .recv_until(|k| match k {
            Out::Presence(p)
                if p.agent_id == ann_id && p.status == pb::AgentStatus::Away as i32 =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    for i in 0..3 {
        let (_s, _, conv) = shopper_opens(&srv, &format!("auto {i}")).await;
        let who = b
            .recv_event(|e| match &e.kind {
                Some(Ev::Assigned(x)) if e.conversation_id == conv => {
                    Some(x.agent.clone().unwrap().id)
                }
                _ => None,
            })
            .await;
        assert_eq!(
            who, bob.id,
            "auto-accept assigns without an Accept, never to an away agent"
        );
        assert_eq!(assigned_agent(&srv, &conv).await, Some(bob.id.clone()));
    }
    // Back online: the next chat goes to ann, the least loaded.
    a.send(In::SetStatus(pb::SetStatus {
        status: pb::AgentStatus::Online as i32,
    }))
    .await;
    watcher
        .recv_until(|k| match k {
            Out::Presence(p)
                if p.agent_id == ann.id && p.status == pb::AgentStatus::Online as i32 =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    let (_s, _, conv) = shopper_opens(&srv, "welcome back").await;
    a.recv_event(|e| {
        (e.conversation_id == conv && matches!(e.kind, Some(Ev::Assigned(_)))).then_some(())
    })
    .await;
    assert_eq!(assigned_agent(&srv, &conv).await, Some(ann.id.clone()));
}

#[tokio::test]
async fn silent_sockets_are_closed_by_the_heartbeat_sweeper() {
    let srv = TestServer::start_with(|s| s.limits.heartbeat_secs = 1).await;
    let v = srv.visitor().await;
    let mut talker = srv.shopper_ws(&v).await;
    let mut silent = srv.shopper_ws(&v).await;
    assert_eq!(talker.hello.heartbeat_interval_ms, 1000);
    // The talker heartbeats; the silent one says nothing and is told to go away.
    let keep_alive = tokio::spawn(async move {
        for i in 0..40 {
            talker.send(In::Heartbeat(pb::Heartbeat { at_ms: i })).await;
            let echoed = talker
                .recv_until(|k| match k {
                    Out::Heartbeat(h) => Some(h.at_ms),
                    _ => None,
                })
                .await;
            assert_eq!(echoed, i, "heartbeats are echoed");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        talker
    });
    let frames = silent.drain_until_closed().await;
    assert!(
        frames.iter().any(|f| matches!(f, Out::GoAway(_))),
        "the silent socket is told why: {frames:?}"
    );
    let mut talker = keep_alive.await.unwrap();
    talker.say("", "still-here", "still connected").await;
}

#[tokio::test]
async fn metrics_describe_connections_conversations_and_messages() {
    let srv = TestServer::start().await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&ann).await;
    let (_s, _, conv) = shopper_opens(&srv, "hello").await;
    a.accept_next_offer().await;
    a.say(&conv, "m1", "hi there").await;
    let text = srv.metrics().await;
    for name in [
        "kefu_connected_shoppers",
        "kefu_connected_agents",
        "kefu_conversations{state=\"assigned\"}",
        "kefu_queue_length",
        "kefu_queue_wait_seconds",
        "kefu_messages_total{direction=\"from_shopper\"}",
        "kefu_messages_total{direction=\"to_shopper\"}",
        "kefu_ack_latency_seconds_bucket",
        "kefu_write_batch_size_bucket{le=\"2048\"}",
        "kefu_write_commit_seconds_bucket",
    ] {
        assert!(text.contains(name), "/metrics exposes {name}");
    }
    let ready = srv.http.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
