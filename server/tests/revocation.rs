//! Revocation reaches live connections for shoppers, bots and watchers too (issue 18, item
//! 2; agents and supervisors are in `live_changes.rs`): a supervisor blocks a shopper — its
//! sockets close with `VISITOR_BLOCKED`, its token and a new session are refused, nothing it
//! sends is acked, and it is audited; a deleted bot holds no socket and is refused at its
//! next request; a demoted supervisor no longer hears other agents' chats.

mod common;

use common::*;
use futures_util::SinkExt as _;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::{auth::identity, store::Role};
use prost::Message as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Sends a frame, ignoring a socket the server already closed.
async fn send_anyway(ws: &mut Ws, kind: In) {
    let frame = pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec();
    let _ = ws.ws.send(Message::Binary(frame.into())).await;
}

/// Starts (or continues) a visitor session; returns the status and body.
async fn session(srv: &TestServer, body: Value) -> (u16, Value) {
    let res = srv
        .http
        .post(srv.url("/api/v1/visitor/session"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_blocked_shopper_is_cut_off_refused_and_never_acked() {
    let srv = TestServer::start().await;
    let sup = srv.agent("sup", Role::Supervisor, &["pre-sales"], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (mut tab1, v, conv) = shopper_opens(&srv, "first").await;
    assert_eq!(alice_ws.accept_next_offer().await, conv);
    let mut tab2 = srv.shopper_ws(&v).await;

    let block = format!("/api/v1/visitors/{}/block", v.id);
    let (status, body) = srv
        .post(&block, &alice.token, json!({"reason": "spam"}))
        .await;
    assert_eq!(status, 403, "an agent may not block shoppers: {body}");
    let (status, body) = srv
        .post(&block, &sup.token, json!({"reason": "spam links"}))
        .await;
    assert_eq!(status, 204, "a supervisor blocks the shopper: {body}");

    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(
            tab.go_away_code().await,
            pb::GoAwayCode::VisitorBlocked,
            "every open tab of the blocked shopper is closed, saying why"
        );
    }
    send_anyway(
        &mut tab1,
        text_msg(conv.clone(), "after-block", "still here"),
    )
    .await;
    let frames = tab1.drain_until_closed().await;
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, Out::Ack(a) if a.client_msg_id == "after-block")),
        "nothing the blocked shopper sends is acked: {frames:?}"
    );

    let (status, body) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &v.token)
        .await;
    assert_eq!(status, 403, "its token is refused over REST: {body}");
    assert_eq!(body["code"], "forbidden");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("blocked"),
        "the refusal says why: {body}"
    );
    let refused =
        tokio_tungstenite::connect_async(ws_request(srv.addr, "shopper", &v.token, Some(ORIGIN)))
            .await;
    assert!(refused.is_err(), "a blocked shopper cannot open a socket");
    let (status, body) = session(
        &srv,
        json!({"site_id": SITE, "visitor_token": v.token.clone()}),
    )
    .await;
    assert_eq!(
        status, 403,
        "nor continue its session with its old token: {body}"
    );

    let (status, history) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages?limit=50"),
            &alice.token,
        )
        .await;
    assert_eq!(status, 200, "{history}");
    assert!(
        !history.to_string().contains("still here"),
        "the message sent after the block was not stored: {history}"
    );
    let (status, audit) = srv.get("/api/v1/audit", &sup.token).await;
    assert_eq!(status, 200, "{audit}");
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "block_visitor")
        .unwrap_or_else(|| panic!("the block is audited: {audit}"));
    assert_eq!(entry["target"], v.id.as_str());
    assert_eq!(entry["actor_id"], sup.id.as_str());
    assert!(entry["details"].as_str().unwrap().contains("spam links"));

    // Others are unaffected: another shopper reaches alice as before.
    let (_other, _v2, other_conv) = shopper_opens(&srv, "another shopper").await;
    assert_eq!(alice_ws.accept_next_offer().await, other_conv);

    let (status, _) = srv
        .post(
            &format!("/api/v1/visitors/{}/unblock", v.id),
            &sup.token,
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = srv
        .get(&format!("/api/v1/conversations/{conv}"), &v.token)
        .await;
    assert_eq!(status, 200, "unblocked, its token works again: {body}");
    let (status, audit) = srv.get("/api/v1/audit", &sup.token).await;
    assert_eq!(status, 200);
    assert!(
        audit.to_string().contains("unblock_visitor"),
        "the unblock is audited too: {audit}"
    );
}

#[tokio::test]
async fn a_blocked_customer_cannot_sign_in_again_with_the_shops_signature() {
    let srv = TestServer::start().await;
    let sup = srv.agent("sup", Role::Supervisor, &["pre-sales"], 5).await;
    let signed = json!({
        "site_id": SITE,
        "customer_id": "cust-7",
        "signature": identity::sign(SECRET, "cust-7"),
    });
    let (status, first) = session(&srv, signed.clone()).await;
    assert_eq!(status, 200, "{first}");
    let visitor = first["visitor_id"].as_str().unwrap().to_string();
    let (status, _) = srv
        .post(
            &format!("/api/v1/visitors/{visitor}/block"),
            &sup.token,
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = session(&srv, signed).await;
    assert_eq!(
        status, 403,
        "the shop's signed identity does not bring a blocked customer back: {body}"
    );
    let (status, body) = srv
        .post(
            &format!("/api/v1/visitors/{}/block", uuid::Uuid::new_v4()),
            &sup.token,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "an unknown visitor is a typed 404: {body}");
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn a_deleted_bot_holds_no_socket_and_its_next_write_is_refused() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &["pre-sales"], 5).await;
    let (status, bot) = srv
        .post("/api/v1/bots", &admin.token, json!({"name": "helper"}))
        .await;
    assert_eq!(status, 201, "{bot}");
    let token = bot["token"].as_str().unwrap().to_string();
    // Bots speak REST only: there is no socket a revocation would have to reach.
    let socket =
        tokio_tungstenite::connect_async(ws_request(srv.addr, "agent", &token, None)).await;
    assert!(socket.is_err(), "a bot token opens no socket");

    let (_shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    let send = format!("/api/v1/bot/conversations/{conv}/messages");
    let (status, body) = srv
        .post(&send, &token, json!({"client_msg_id": "b1", "text": "hi"}))
        .await;
    assert_eq!(status, 201, "the bot writes while it exists: {body}");
    let status = srv
        .delete(
            &format!("/api/v1/bots/{}", bot["id"].as_str().unwrap()),
            &admin.token,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = srv
        .post(
            &send,
            &token,
            json!({"client_msg_id": "b2", "text": "still?"}),
        )
        .await;
    assert_eq!(
        status, 401,
        "the deleted bot's next write is refused: {body}"
    );
    assert_eq!(body["code"], "unauthenticated", "with a typed code: {body}");
    let (_, history) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages?limit=50"),
            &admin.token,
        )
        .await;
    assert!(
        !history.to_string().contains("still?"),
        "and nothing was stored: {history}"
    );
}

#[tokio::test]
async fn a_demoted_supervisor_stops_receiving_watcher_traffic() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let sup = srv
        .agent("sup", Role::Supervisor, &["after-sales"], 5)
        .await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (mut shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(alice_ws.accept_next_offer().await, conv);
    let mut sup_ws = srv.agent_ws(&sup).await;
    shopper.say(&conv, "before", "watched").await;
    sup_ws.recv_message(|m| text_of(m) == Some("watched")).await;

    let status = srv
        .patch(
            &format!("/api/v1/agents/{}", sup.id),
            &admin.token,
            json!({"role": "agent"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        sup_ws.go_away_code().await,
        pb::GoAwayCode::AccountChanged,
        "the demoted supervisor's watcher socket is closed"
    );
    let mut again = srv.agent_ws(&sup).await;
    shopper.say(&conv, "after", "not for you").await;
    alice_ws
        .recv_message(|m| text_of(m) == Some("not for you"))
        .await;
    // The ack came after the message was queued for every recipient, so a heartbeat
    // answered now comes after anything queued for this socket.
    let seen = again.frames_until_heartbeat(7).await;
    assert!(
        !seen.iter().any(|f| matches!(f, Out::Message(_))),
        "as an agent it no longer hears another agent's chat: {seen:?}"
    );
}
