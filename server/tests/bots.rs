//! The bot API: bot accounts with hashed tokens, and what a bot may do in a conversation
//! (read, reply idempotently, tag, hand off), with every refusal a clear JSON error.

mod common;

use common::*;
use kefu_server::store::{Priority, Role};
use serde_json::{Value, json};

async fn create_bot(srv: &TestServer, admin: &str, name: &str) -> (String, String) {
    let (status, bot) = srv.post("/api/v1/bots", admin, json!({"name": name})).await;
    assert_eq!(status, 201, "{bot}");
    let token = bot["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("kfb_"));
    (bot["id"].as_str().unwrap().to_string(), token)
}

#[tokio::test]
async fn only_admins_manage_bots_and_tokens_are_stored_hashed() {
    let srv = TestServer::start().await;
    let admin = srv.agent("root", Role::Admin, &["pre-sales"], 5).await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let (status, _) = srv
        .post("/api/v1/bots", &agent.token, json!({"name": "x"}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = srv
        .post("/api/v1/bots", &admin.token, json!({"name": " "}))
        .await;
    assert_eq!(status, 400);
    let (id, token) = create_bot(&srv, &admin.token, "Shipping bot").await;
    let (status, _) = srv
        .post(
            "/api/v1/bots",
            &admin.token,
            json!({"name": "Shipping bot"}),
        )
        .await;
    assert_eq!(status, 409, "names are unique");
    let (status, list) = srv.get("/api/v1/bots", &admin.token).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("token").is_none() && list[0].get("token_hash").is_none());
    assert!(
        !list.to_string().contains(&token),
        "the token is shown once only"
    );

    let (_, _, conv) = shopper_opens(&srv, "hello").await;
    let path = format!("/api/v1/bot/conversations/{conv}");
    let (status, c) = srv.get(&path, &token).await;
    assert_eq!(status, 200);
    assert_eq!(c["id"], conv.as_str());
    // Each token works only where it belongs.
    let (status, _) = srv.get(&path, &agent.token).await;
    assert_eq!(status, 403);
    let (status, _) = srv.get("/api/v1/conversations?view=queue", &token).await;
    assert_eq!(status, 403);
    let (status, _) = srv.get(&format!("{path}/messages"), &token).await;
    assert_eq!(status, 200);
    let (status, _) = srv.get(&path, "kfb_not-a-real-token").await;
    assert_eq!(status, 401);
    // Deleting the bot revokes its token at once.
    let res = srv
        .http
        .delete(srv.url(&format!("/api/v1/bots/{id}")))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, err) = srv.get(&path, &token).await;
    assert_eq!(status, 401);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("unknown bot token")
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn a_bot_replies_once_per_id_tags_and_hands_off_to_a_human() {
    let srv = TestServer::start().await;
    let admin = srv.agent("root", Role::Admin, &["pre-sales"], 5).await;
    let (_, token) = create_bot(&srv, &admin.token, "Helper").await;
    let after_sales = srv.agent("amy", Role::Agent, &["after-sales"], 5).await;
    let mut desk = srv.agent_ws(&after_sales).await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "my parcel is broken").await;
    let path = format!("/api/v1/bot/conversations/{conv}");

    let reply = json!({"client_msg_id": "bot-1", "text": "Sorry to hear that!"});
    let (status, first) = srv
        .post(&format!("{path}/messages"), &token, reply.clone())
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["sender_role"], "bot");
    assert_eq!(first["sender_name"], "Helper");
    let (status, again) = srv.post(&format!("{path}/messages"), &token, reply).await;
    assert_eq!(status, 201);
    assert_eq!(again["id"], first["id"], "a retried reply is stored once");
    let m = shopper.recv_bot_message().await;
    assert_eq!(text_of(&m), Some("Sorry to hear that!"));

    for bad in [
        json!({"client_msg_id": "bot-2"}),
        json!({"client_msg_id": "bot-2", "text": "   "}),
        json!({"client_msg_id": "bot-2", "body": {"type": "system", "kind": "x", "text": "y"}}),
        json!({"client_msg_id": "", "text": "hi"}),
    ] {
        let (status, err) = srv
            .post(&format!("{path}/messages"), &token, bad.clone())
            .await;
        assert!(matches!(status, 400 | 403), "{bad} → {status} {err}");
        assert!(err["message"].is_string(), "{err}");
    }

    let (status, c) = srv
        .post(
            &format!("{path}/tags"),
            &token,
            json!({"tags": ["damaged"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(c["tags"], json!(["damaged"]));

    let handoff = json!({"group": "after-sales", "priority": "high", "note": "Parcel arrived broken; photos promised."});
    let (status, c) = srv.post(&format!("{path}/handoff"), &token, handoff).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["group"], "after-sales");
    assert_eq!(c["tags"], json!(["damaged", "handoff"]));
    let stored = srv.store.conversation(conv.parse().unwrap()).await.unwrap();
    assert_eq!(stored.priority, Priority::High);
    // The after-sales agent is offered it and sees the bot's note; the shopper never does.
    let accepted = desk.accept_next_offer().await;
    assert_eq!(accepted, conv);
    let (_, history): (u16, Value) = srv
        .get(
            &format!("/api/v1/conversations/{conv}/messages"),
            &after_sales.token,
        )
        .await;
    let texts = history["messages"].to_string();
    assert!(texts.contains("photos promised"), "{texts}");
    let (_, visible) = srv.get(&format!("{path}/messages"), &token).await;
    assert!(
        !visible.to_string().contains("photos promised"),
        "bots see no private notes"
    );

    let (status, err) = srv
        .post(
            &format!("{path}/handoff"),
            &token,
            json!({"group": "nowhere"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = srv
        .post(
            &format!("/api/v1/conversations/{conv}/close"),
            &after_sales.token,
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, err) = srv
        .post(
            &format!("{path}/messages"),
            &token,
            json!({"client_msg_id": "late", "text": "hi"}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    let (status, _) = srv
        .get(
            &format!("/api/v1/bot/conversations/{}", uuid::Uuid::now_v7()),
            &token,
        )
        .await;
    assert_eq!(status, 404);
    srv.shutdown().await;
}

/// The next `Updated` event of `conv` on an agent socket.
async fn labels_of(desk: &mut Ws, conv: &str) -> kefu_proto::v1::Conversation {
    use kefu_proto::v1::conversation_event::Kind;
    desk.recv_event(|e| match &e.kind {
        Some(Kind::Updated(u)) if e.conversation_id == conv => Some(u.clone()),
        _ => None,
    })
    .await
}

/// The desk shows a tag or priority the moment a bot or plugin sets it: the agent who has
/// the chat hears `Updated` with all the labels; the shopper never hears of them.
#[tokio::test]
async fn labels_set_on_an_agents_chat_reach_the_agent_live_and_never_the_shopper() {
    use kefu_proto::v1::{self as pb, server_envelope::Kind as Out};
    let is_updated = |f: &Out| matches!(f, Out::Event(e) if matches!(e.kind, Some(pb::conversation_event::Kind::Updated(_))));
    let srv = TestServer::start().await;
    let admin = srv.agent("root", Role::Admin, &["pre-sales"], 5).await;
    let (_, token) = create_bot(&srv, &admin.token, "Tagger").await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut desk = srv.agent_ws(&ann).await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "where is my order").await;
    assert_eq!(desk.accept_next_offer().await, conv);
    let path = format!("/api/v1/bot/conversations/{conv}");
    let (status, _) = srv
        .post(&format!("{path}/tags"), &token, json!({"tags": ["vip"]}))
        .await;
    assert_eq!(status, 200);
    let u = labels_of(&mut desk, &conv).await;
    assert_eq!(u.tags, ["vip"]);
    assert_eq!(u.priority(), pb::Priority::Unspecified);

    let handoff = json!({"group": "pre-sales", "priority": "urgent"});
    let (status, c) = srv.post(&format!("{path}/handoff"), &token, handoff).await;
    assert_eq!(status, 200, "{c}");
    // The handoff tags, then raises the priority: the last update has both.
    let u = labels_of(&mut desk, &conv).await;
    assert_eq!(u.tags, ["vip", "handoff"]);
    let u = labels_of(&mut desk, &conv).await;
    assert_eq!(
        (u.tags.as_slice(), u.priority()),
        (
            ["vip".to_string(), "handoff".to_string()].as_slice(),
            pb::Priority::Urgent
        )
    );

    // Tags already there and the same priority again change nothing and tell no one.
    let (status, _) = srv
        .post(&format!("{path}/tags"), &token, json!({"tags": ["vip"]}))
        .await;
    assert_eq!(status, 200);
    let quiet = desk.frames_until_heartbeat(42).await;
    assert!(!quiet.iter().any(is_updated), "{quiet:?}");
    let heard = shopper.frames_until_heartbeat(43).await;
    assert!(
        !heard.iter().any(is_updated),
        "the shopper hears no labels: {heard:?}"
    );
    srv.shutdown().await;
}
