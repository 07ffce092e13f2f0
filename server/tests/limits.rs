//! Abuse limits (issue 18, items 3, 4, 6, 7, 8 and 13): floods over real sockets, each
//! showing the flooder limited and everybody else served. Clients bind to different
//! loopback addresses (127.0.0.2, 127.0.0.3…) to be different sources.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use futures_util::{FutureExt, SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::{config::Rate, store::Role};
use prost::Message as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// An HTTP client whose connections come from `127.0.0.<last>`.
fn from(srv: &TestServer, last: u8) -> Endpoint {
    let http = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap();
    Endpoint::new(srv.addr, http)
}

fn frame(kind: In) -> Message {
    Message::Binary(
        pb::ClientEnvelope { kind: Some(kind) }
            .encode_to_vec()
            .into(),
    )
}

fn heartbeat() -> In {
    In::Heartbeat(pb::Heartbeat { at_ms: 1 })
}

/// Reads `n` answers to heartbeats: (echoes, RATE_LIMITED errors).
async fn heartbeat_answers(ws: &mut Ws, n: usize) -> (usize, usize) {
    let (mut echoed, mut limited) = (0, 0);
    while echoed + limited < n {
        match ws.next().await.expect("socket stays open") {
            Out::Heartbeat(_) => echoed += 1,
            Out::Error(e) => {
                assert_eq!(e.code, pb::ErrorCode::RateLimited as i32, "{e:?}");
                limited += 1;
            }
            _ => {}
        }
    }
    (echoed, limited)
}

fn go_away_code(frames: &[Out]) -> Option<u32> {
    frames.iter().find_map(|f| match f {
        Out::GoAway(g) => Some(g.code),
        _ => None,
    })
}

/// Item 3: 20,000 typing frames used to make the agent and watching supervisors "too slow".
/// Now typing beyond its rate is dropped, the flooder is closed with RATE_LIMITED, and the
/// agent keeps serving another shopper.
#[tokio::test]
async fn a_typing_flood_is_dropped_and_closes_only_the_flooder() {
    let srv = TestServer::start().await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut a = srv.agent_ws(&agent).await;
    let (mut flooder, _, conv) = shopper_opens(&srv, "hi").await;
    a.accept_next_offer().await;
    let (mut bystander, _, other) = shopper_opens(&srv, "hello too").await;
    a.accept_next_offer().await;

    let typing = frame(In::Typing(pb::Typing {
        conversation_id: conv.clone(),
        typing: true,
        who: None,
    }));
    // Flood in chunks, looking for the goodbye between them (a peer that keeps writing
    // after the server closed would only get a reset).
    let (mut sent, mut seen) = (0, Vec::new());
    'flood: while sent < 20_000 {
        for _ in 0..100 {
            if flooder.ws.feed(typing.clone()).await.is_err() {
                break 'flood;
            }
            sent += 1;
        }
        if flooder.ws.flush().await.is_err() {
            break;
        }
        while let Some(Some(Ok(Message::Binary(b)))) = flooder.ws.next().now_or_never() {
            seen.extend(pb::ServerEnvelope::decode(b).unwrap().kind);
            if go_away_code(&seen).is_some() {
                break 'flood;
            }
        }
    }
    if go_away_code(&seen).is_none() {
        seen.extend(flooder.drain_until_closed().await);
    }
    assert_eq!(
        go_away_code(&seen),
        Some(pb::GoAwayCode::RateLimited as u32),
        "the flooder is told why it is closed"
    );

    // The agent is still connected and serving: the bystander's message arrives.
    let ack = bystander.say(&other, "b1", "still there?").await;
    let mut typing_seen = 0;
    a.recv_until(|k| match k {
        Out::Typing(t) if t.conversation_id == conv => {
            typing_seen += 1;
            None
        }
        Out::Message(m) if m.conversation_id == other && m.seq == ack.seq => Some(()),
        _ => None,
    })
    .await;
    assert!(
        typing_seen <= 100,
        "typing beyond its rate is dropped: the agent saw {typing_seen} of {sent}"
    );
    let metrics = srv.metrics().await;
    assert!(
        metrics.contains("kefu_rate_limited_total{kind=\"ws_typing\"}"),
        "refusals are counted by kind"
    );
}

/// Item 3: every frame kind has its own per-connection quota; beyond it the answer is a
/// typed RATE_LIMITED error, and another connection is not affected.
#[tokio::test]
async fn reads_and_heartbeats_over_their_rate_get_rate_limited() {
    let srv = TestServer::start_with(|s| {
        s.limits.frames.heartbeat = Rate::per_hour(1, 5);
        s.limits.frames.read = Rate::per_hour(1, 3);
    })
    .await;
    let (mut flooder, _, conv) = shopper_opens(&srv, "hi").await;
    for _ in 0..10 {
        flooder.send(heartbeat()).await;
    }
    assert_eq!(
        heartbeat_answers(&mut flooder, 10).await,
        (5, 5),
        "the burst of 5 is echoed, the rest refused"
    );
    for _ in 0..5 {
        flooder
            .send(In::Read(pb::ReadReceipt {
                conversation_id: conv.clone(),
                up_to_seq: 1,
                who: None,
            }))
            .await;
    }
    let mut refused = 0;
    while refused < 2 {
        assert_eq!(
            flooder.recv_error().await.code,
            pb::ErrorCode::RateLimited as i32
        );
        refused += 1;
    }
    flooder.send(heartbeat()).await;
    assert_eq!(heartbeat_answers(&mut flooder, 1).await, (0, 1));

    let v = srv.visitor().await;
    let mut other = srv.shopper_ws(&v).await;
    for _ in 0..5 {
        other.send(heartbeat()).await;
    }
    assert_eq!(
        heartbeat_answers(&mut other, 5).await,
        (5, 0),
        "another shopper's quota is untouched"
    );
}

/// Item 3: one visitor's quota counts over all its sockets.
#[tokio::test]
async fn one_visitor_is_limited_over_all_its_sockets() {
    let srv = TestServer::start_with(|s| s.limits.visitor.frames = Rate::per_hour(1, 10)).await;
    let v = srv.visitor().await;
    let mut first = srv.shopper_ws(&v).await;
    let mut second = srv.shopper_ws(&v).await;
    for _ in 0..6 {
        first.send(heartbeat()).await;
    }
    let (echoed_first, _) = heartbeat_answers(&mut first, 6).await;
    for _ in 0..6 {
        second.send(heartbeat()).await;
    }
    let (echoed_second, limited) = heartbeat_answers(&mut second, 6).await;
    assert_eq!(
        (echoed_first + echoed_second, limited),
        (10, 2),
        "10 frames over both sockets, then refusals"
    );
    let other = srv.visitor().await;
    let mut ws = srv.shopper_ws(&other).await;
    ws.send(heartbeat()).await;
    assert_eq!(
        heartbeat_answers(&mut ws, 1).await,
        (1, 0),
        "others unaffected"
    );
}

/// Item 13: a visitor token holds at most `max_sockets` sockets; the next one is refused
/// with GoAway TOO_MANY_CONNECTIONS, and a freed slot can be used again.
#[tokio::test]
async fn a_visitor_token_holds_at_most_max_sockets() {
    let srv = TestServer::start().await;
    let v = srv.visitor().await;
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(srv.shopper_ws(&v).await);
    }
    let (mut sixth, _) =
        tokio_tungstenite::connect_async(ws_request(srv.addr, "shopper", &v.token, Some(ORIGIN)))
            .await
            .unwrap();
    let first = match sixth.next().await {
        Some(Ok(Message::Binary(b))) => pb::ServerEnvelope::decode(b).unwrap().kind,
        other => panic!("expected a goodbye, got {other:?}"),
    };
    match first {
        Some(Out::GoAway(g)) => assert_eq!(g.code, pb::GoAwayCode::TooManyConnections as u32),
        other => panic!("the sixth socket is refused with a reason: {other:?}"),
    }
    let other = srv.visitor().await;
    let _fine = srv.shopper_ws(&other).await;

    drop(open.pop());
    let token = v.token.clone();
    let addr = srv.addr;
    eventually("a closed socket frees its slot", || {
        let token = token.clone();
        async move {
            let (mut ws, _) =
                tokio_tungstenite::connect_async(ws_request(addr, "shopper", &token, Some(ORIGIN)))
                    .await
                    .ok()?;
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => match pb::ServerEnvelope::decode(b).unwrap().kind {
                    Some(Out::Hello(_)) => Some(()),
                    _ => None,
                },
                _ => None,
            }
        }
    })
    .await;
}

/// Item 6: visitor sessions are limited per source address; another address is served.
#[tokio::test]
async fn visitor_sessions_are_limited_per_address() {
    let srv = TestServer::start_with(|s| s.limits.ip.sessions = Rate::per_hour(1, 5)).await;
    let flooder = from(&srv, 2);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = flooder
            .http
            .post(flooder.url("/api/v1/visitor/session"))
            .json(&json!({"site_id": SITE}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if status == 429 {
            let wait = res.headers()["retry-after"].to_str().unwrap();
            let wait: u64 = wait.parse().expect("Retry-After in whole seconds");
            assert!(
                (1..=3600).contains(&wait),
                "one new session per hour: {wait} s"
            );
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["code"], "rate_limited", "typed: {body}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    let _served = from(&srv, 3).visitor().await;
    assert!(
        srv.metrics()
            .await
            .contains("kefu_rate_limited_total{kind=\"ip_sessions\"}")
    );
}

/// Item 6: 1,000 conversations once pushed a real shopper to queue position 1,007. Now one
/// address may open a few per window, so another address's shopper stays near the front.
#[tokio::test]
async fn conversations_are_capped_per_address_so_the_queue_stays_short() {
    let srv = TestServer::start_with(|s| s.limits.ip.conversations = Rate::per_hour(1, 3)).await;
    let flooder = from(&srv, 2);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let v = flooder.visitor().await;
        let (status, _) = flooder
            .post("/api/v1/visitor/conversation", &v.token, json!({}))
            .await;
        statuses.push(status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");

    let shopper = from(&srv, 3);
    let v = shopper.visitor().await;
    let (status, body) = shopper
        .post("/api/v1/visitor/conversation", &v.token, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["queue_position"], 4, "behind the 3 the flooder got in");
    let (again, _) = shopper
        .post("/api/v1/visitor/conversation", &v.token, json!({}))
        .await;
    assert_eq!(
        again, 200,
        "asking for the open conversation again costs nothing"
    );
}

/// Item 6, the socket's way round: a shopper whose conversation closed opens the next one
/// by writing on its socket, and that counts against the same per-address cap as the REST
/// open (it used to open conversation after conversation unchecked). A message into the
/// open conversation costs nothing.
#[tokio::test]
async fn conversations_opened_by_writing_on_a_socket_count_against_the_cap() {
    let srv = TestServer::start_with(|s| {
        s.limits.ip.conversations = Rate::per_hour(1, 2);
        s.routing.reopen_window_secs = 0;
    })
    .await;
    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    for i in 0..2 {
        let conv = ws
            .say("", &format!("open-{i}"), "hello")
            .await
            .conversation_id;
        for j in 0..3 {
            let again = ws.say("", &format!("more-{i}-{j}"), "and").await;
            assert_eq!(again.conversation_id, conv, "into the open one");
        }
        ws.send(In::Close(pb::CloseConversation {
            conversation_id: conv,
        }))
        .await;
        ws.recv_event(|e| {
            matches!(e.kind, Some(pb::conversation_event::Kind::Closed(_))).then_some(())
        })
        .await;
    }
    ws.send(text_msg("", "open-2", "a third")).await;
    let err = ws.recv_error().await;
    assert_eq!(err.code, pb::ErrorCode::RateLimited as i32, "{err:?}");
    assert_eq!(err.client_msg_id, "open-2", "the refused message is named");

    let elsewhere = from(&srv, 3);
    let other = elsewhere.visitor().await;
    let (status, body) = elsewhere
        .post("/api/v1/visitor/conversation", &other.token, json!({}))
        .await;
    assert_eq!(status, 200, "another address opens one: {body}");
}

/// Item 7: left messages take the shopper's message quota.
#[tokio::test]
async fn left_messages_take_the_message_quota() {
    let srv = TestServer::start_with(|s| {
        s.limits.messages_per_second = 1;
        s.limits.messages_burst = 3;
    })
    .await;
    let v = srv.visitor().await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let (status, _) = srv
            .post(
                "/api/v1/visitor/conversation",
                &v.token,
                json!({"left_message": true}),
            )
            .await;
        statuses.push(status);
    }
    let passed = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (3..30).contains(&passed) && statuses[..3].iter().all(|s| *s == 200),
        "the burst passes, then 1/s: {statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    let other = srv.visitor().await;
    let (status, _) = srv
        .post(
            "/api/v1/visitor/conversation",
            &other.token,
            json!({"left_message": true}),
        )
        .await;
    assert_eq!(status, 200, "another shopper leaves a message fine");
}

async fn upload(srv: &Endpoint, token: &str, conv: &str, bytes: Vec<u8>) -> (u16, Value) {
    let res = srv
        .http
        .post(srv.url(&format!(
            "/api/v1/conversations/{conv}/attachments?filename=a.txt"
        )))
        .bearer_auth(token)
        .header("content-type", "text/plain")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Item 8: uploads have a per-visitor quota of files and bytes; nobody uploads into a closed
/// conversation (409 `conversation_closed`).
#[tokio::test]
async fn uploads_have_a_quota_and_closed_conversations_take_none() {
    let srv = TestServer::start_with(|s| {
        s.limits.visitor.uploads = Rate::per_hour(1, 3);
        s.limits.visitor.upload_kib = Rate::per_hour(1, 4);
    })
    .await;
    let (_ws, v, conv) = shopper_opens(&srv, "see the file").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(upload(&srv, &v.token, &conv, b"hello".to_vec()).await.0);
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429]);

    let (mut ws, v2, conv2) = shopper_opens(&srv, "mine too").await;
    let (status, body) = upload(&srv, &v2.token, &conv2, vec![b'a'; 5 * 1024]).await;
    assert_eq!(status, 429, "more bytes than the window allows: {body}");
    let (status, _) = upload(&srv, &v2.token, &conv2, b"small".to_vec()).await;
    assert_eq!(status, 201, "the refused bytes were not counted");

    ws.send(In::Close(pb::CloseConversation {
        conversation_id: conv2.clone(),
    }))
    .await;
    let token = v2.token.clone();
    let path = format!("/api/v1/conversations/{conv2}");
    eventually("the conversation closes", || {
        let (token, path) = (token.clone(), path.clone());
        let srv = &srv;
        async move { (srv.get(&path, &token).await.1["state"] == "closed").then_some(()) }
    })
    .await;
    let (status, body) = upload(&srv, &v2.token, &conv2, b"late".to_vec()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conversation_closed"))
    );
}

/// Items 4 and 13: wrong passwords slow the guessing address down for that user only; the
/// owner signs in from elsewhere, and oversized usernames are refused before anything is
/// remembered about them.
#[tokio::test]
async fn wrong_passwords_slow_the_guesser_not_the_owner() {
    let srv = TestServer::start().await;
    srv.agent("target", Role::Agent, &["pre-sales"], 5).await;
    let attacker = from(&srv, 2);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = attacker
            .http
            .post(attacker.url("/api/v1/auth/login"))
            .json(&json!({"username": "target", "password": "guess-guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[11], 429, "then the guesser waits: {statuses:?}");
    let res = attacker
        .http
        .post(attacker.url("/api/v1/auth/login"))
        .json(&json!({"username": "target", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "even the right password waits at that address"
    );

    let owner = from(&srv, 3);
    let token = owner.login("target", PASSWORD).await;
    assert!(
        !token.is_empty(),
        "the owner signs in from their own address"
    );

    let huge = "u".repeat(60_000);
    let res = attacker
        .http
        .post(attacker.url("/api/v1/auth/login"))
        .json(&json!({"username": huge, "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "an over-long username names no account: refused early, before any hash"
    );
}
