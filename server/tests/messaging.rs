//! Messaging guarantees over real sockets: ack after commit, idempotent resend, strictly
//! increasing seq, resume without gaps or duplicates, private notes, typing, read receipts,
//! and a slow agent not delaying others.

mod common;

use common::*;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::store::Role;

#[tokio::test]
async fn acked_messages_are_stored_in_order_and_resends_do_not_duplicate() {
    let srv = TestServer::start().await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&agent).await;
    let (mut shopper, v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(
        a.accept_next_offer().await,
        conv,
        "the only agent gets the offer"
    );

    // Pipeline 50 messages without waiting; acks carry strictly increasing seqs.
    for i in 0..50 {
        shopper
            .send_text(&conv, &format!("m{i}"), &format!("text {i}"))
            .await;
    }
    let mut seqs = Vec::new();
    while seqs.len() < 50 {
        if let Some(Out::Ack(ack)) = shopper.next().await {
            seqs.push((ack.client_msg_id.clone(), ack.seq));
        }
    }
    let ordered: Vec<u64> = seqs.iter().map(|s| s.1).collect();
    assert!(
        ordered.windows(2).all(|w| w[0] < w[1]),
        "acks in send order with increasing seq: {ordered:?}"
    );

    // Resending an already acknowledged id returns the same ack and stores nothing new.
    let again = shopper.say(&conv, "m7", "text 7 (resent)").await;
    let original = seqs.iter().find(|s| s.0 == "m7").unwrap().1;
    assert_eq!(again.seq, original, "same client_msg_id, same seq");

    // The agent saw every message exactly once, in seq order.
    let mut seen = Vec::new();
    while seen.len() < 50 {
        let m = a
            .recv_message(|m| {
                m.sender
                    .as_ref()
                    .is_some_and(|s| s.role == pb::Role::Shopper as i32)
            })
            .await;
        seen.push(m.seq);
    }
    assert_eq!(seen, ordered, "agent receives each message once, in order");

    // The history agrees: 52 messages (hello + 50 + the "joined" activity), no duplicate.
    let (status, page) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages?limit=200"),
            &v.token,
        )
        .await;
    assert_eq!(status, 200);
    let msgs = page["messages"].as_array().unwrap();
    let texts = msgs.iter().filter(|m| m["body"]["type"] == "text").count();
    assert_eq!(texts, 51, "hello plus 50, the resend stored nothing");
    let all: Vec<i64> = msgs.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        all,
        (1..=all.len() as i64).collect::<Vec<_>>(),
        "seq has no gaps"
    );
}

#[tokio::test]
async fn resume_after_a_dropped_connection_has_no_gap_and_no_duplicate() {
    let srv = TestServer::start().await;
    let agent = srv.agent("bo", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&agent).await;
    let (mut shopper, v, conv) = shopper_opens(&srv, "first").await;
    a.accept_next_offer().await;
    a.say(&conv, "a1", "agent one").await;
    let last_seen = shopper
        .recv_message(|m| text_of(m) == Some("agent one"))
        .await
        .seq;

    // The shopper drops; the agent writes three more while it is away.
    drop(shopper);
    for i in 2..=4 {
        a.say(&conv, &format!("a{i}"), &format!("agent {i}")).await;
    }
    let mut back = srv.shopper_ws(&v).await;
    assert_eq!(
        back.hello.open_conversation_id, conv,
        "hello names the open conversation"
    );
    // A live message arriving while the replay runs must not be delivered twice either.
    back.send(In::Resume(pb::Resume {
        conversation_id: conv.clone(),
        last_seq: last_seen,
    }))
    .await;
    a.say(&conv, "a5", "agent 5").await;

    let mut got = Vec::new();
    loop {
        match back.next().await.expect("open") {
            Out::Message(m) => got.push((m.seq, text_of(&m).unwrap_or("").to_string())),
            Out::ResumeDone(_) if got.iter().any(|g| g.1 == "agent 5") => break,
            _ => {}
        }
        if got.iter().any(|g| g.1 == "agent 5") && got.len() >= 4 {
            break;
        }
    }
    let texts: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(
        texts,
        ["agent 2", "agent 3", "agent 4", "agent 5"],
        "exactly what was missed, in order"
    );
    let seqs: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in seq order, no duplicate: {seqs:?}"
    );
}

#[tokio::test]
async fn private_notes_never_reach_the_shopper() {
    let srv = TestServer::start().await;
    let agent = srv.agent("cy", Role::Agent, &["pre-sales"], 5).await;
    let sup = srv.agent("sup", Role::Supervisor, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&agent).await;
    let mut s = srv.agent_ws(&sup).await;
    let (mut shopper, v, conv) = shopper_opens(&srv, "hi").await;
    a.accept_next_offer().await;

    a.send(In::Send(pb::SendMessage {
        conversation_id: conv.clone(),
        client_msg_id: "note-1".into(),
        body: Some(note_body("customer is a VIP")),
        group: String::new(),
        context: None,
    }))
    .await;
    a.recv_until(|k| matches!(k, Out::Ack(ack) if ack.client_msg_id == "note-1").then_some(()))
        .await;
    a.say(&conv, "after", "after the note").await;

    // The supervisor sees the note live.
    s.recv_message(|m| m.client_msg_id == "note-1").await;
    // The shopper's socket gets the next public message but never the note.
    let mut shopper_frames = Vec::new();
    loop {
        let f = shopper.next().await.expect("open");
        let done = matches!(&f, Out::Message(m) if text_of(m) == Some("after the note"));
        shopper_frames.push(f);
        if done {
            break;
        }
    }
    assert!(
        !shopper_frames
            .iter()
            .any(|f| matches!(f, Out::Message(m) if m.client_msg_id == "note-1")),
        "no private note on the shopper's socket"
    );
    // Nor in a resume from the start, nor in REST history.
    shopper
        .send(In::Resume(pb::Resume {
            conversation_id: conv.clone(),
            last_seq: 0,
        }))
        .await;
    let (_, page) = srv
        .get(&format!("/api/v1/conversations/{conv}/messages"), &v.token)
        .await;
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["body"]["type"] != "private_note"),
        "no private note in the shopper's history"
    );
    let (_, agent_page) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &agent.token,
        )
        .await;
    assert!(
        agent_page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"]["type"] == "private_note"),
        "agents do see the note in history"
    );
    let mut fresh = srv.shopper_ws(&v).await;
    fresh
        .send(In::Resume(pb::Resume {
            conversation_id: conv.clone(),
            last_seq: 0,
        }))
        .await;
    let mut replay = Vec::new();
    loop {
        match fresh.next().await.expect("open") {
            Out::Message(m) => replay.push(m),
            Out::ResumeDone(_) => break,
            _ => {}
        }
    }
    assert!(
        replay.iter().any(|m| text_of(m) == Some("after the note")),
        "the replay has public messages"
    );
    assert!(
        replay.iter().all(|m| m.client_msg_id != "note-1"),
        "the replay has no private note"
    );

    // Shoppers cannot write private notes.
    shopper
        .send(In::Send(pb::SendMessage {
            conversation_id: conv.clone(),
            client_msg_id: "sneaky".into(),
            body: Some(note_body("x")),
            group: String::new(),
            context: None,
        }))
        .await;
    let err = shopper.recv_error().await;
    assert_eq!(err.code, pb::ErrorCode::Forbidden as i32);
}

#[tokio::test]
async fn typing_and_read_receipts_reach_the_other_side() {
    let srv = TestServer::start().await;
    let agent = srv.agent("di", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&agent).await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "hi").await;
    a.accept_next_offer().await;

    shopper.typing(&conv).await;
    let t = a.recv_typing().await;
    assert!(t.typing);
    assert_eq!(
        t.who.unwrap().role,
        pb::Role::Shopper as i32,
        "the server fills in who is typing"
    );

    let ack = a.say(&conv, "r1", "how can I help?").await;
    shopper.read_up_to(&conv, ack.seq).await;
    let r = a.recv_read().await;
    assert_eq!(r.up_to_seq, ack.seq);

    a.typing(&conv).await;
    let t = shopper.recv_typing().await;
    assert_eq!(t.who.unwrap().role, pb::Role::Agent as i32);

    // Typing is not stored.
    let (_, page) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &agent.token,
        )
        .await;
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["body"]["type"] != "typing")
    );
}

#[tokio::test]
async fn a_slow_agent_does_not_delay_the_others() {
    // A tiny outbound queue so the stalled reader overflows quickly.
    let srv = TestServer::start_with(|s| {
        s.limits.outbound_queue = 8;
        s.limits.max_frame_bytes = 256 * 1024;
        s.limits.max_text_bytes = 128 * 1024;
    })
    .await;
    let fast = srv.agent("fast", Role::Agent, &["pre-sales"], 5).await;
    let slow = srv.agent("slow", Role::Supervisor, &["pre-sales"], 5).await;
    let mut f = srv.agent_ws(&fast).await;
    let mut s = srv.agent_ws(&slow).await; // supervisors receive every conversation's traffic
    let (mut shopper, _, conv) = shopper_opens(&srv, "hi").await;
    // Both agents are free; accept whichever offer comes, as the fast agent.
    let offered = f.accept_next_offer().await;
    assert_eq!(offered, conv);

    // The slow agent stops reading. The shopper sends big messages, enough to fill the
    // socket buffers and the slow agent's queue many times over.
    let text = "x".repeat(100_000);
    const N: usize = 150;
    let sender = tokio::spawn(async move {
        let mut acks = 0;
        for i in 0..N {
            shopper.say(&conv, &format!("big{i}"), &text).await;
            acks += 1;
        }
        acks
    });
    let mut received = 0;
    while received < N {
        f.recv_message(|m| m.client_msg_id.starts_with("big")).await;
        received += 1;
    }
    assert_eq!(sender.await.unwrap(), N, "every message acknowledged");
    assert_eq!(
        received, N,
        "the fast agent got every message while the slow one stalled"
    );

    // The stalled connection was cut off (it ends with GoAway/close) rather than buffering
    // without bound; it would reconnect and resume.
    let frames = s.drain_until_closed().await;
    let delivered = frames
        .iter()
        .filter(|f| matches!(f, Out::Message(_)))
        .count();
    assert!(
        delivered < N,
        "the slow socket was dropped before receiving everything ({delivered})"
    );
}
