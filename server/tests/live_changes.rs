//! Account changes reach live connections at once (issue 17, "one way in"): a disabled or
//! deleted agent's sockets close with a typed reason, its offers and conversations go to
//! others; new groups or a new role reconnect it with the new rights; a new capacity takes
//! effect without a reconnect; a logout closes that sign-in's sockets only; a deleted bot is
//! refused at its next request.

mod common;

use common::*;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::store::Role;
use serde_json::{Value, json};

/// The next offer this agent gets; returns the conversation id.
async fn next_offer(ws: &mut Ws) -> String {
    ws.recv_event(|e| {
        matches!(e.kind, Some(pb::conversation_event::Kind::Offered(_)))
            .then(|| e.conversation_id.clone())
    })
    .await
}

/// The conversation's state and agent as the REST API reports them.
async fn conversation(srv: &TestServer, token: &str, id: &str) -> (String, Value) {
    let (status, c) = srv.get(&format!("/api/v1/conversations/{id}"), token).await;
    assert_eq!(status, 200, "reading conversation {id}: {c}");
    (
        c["state"].as_str().unwrap_or_default().to_string(),
        c["agent_id"].clone(),
    )
}

#[tokio::test]
async fn a_disabled_agent_is_cut_off_and_its_conversation_goes_to_another() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (_shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(alice_ws.accept_next_offer().await, conv);
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let mut bob_ws = srv.agent_ws(&bob).await;

    let status = srv
        .patch(
            &format!("/api/v1/agents/{}", alice.id),
            &admin.token,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, 200, "an admin may disable an agent");
    assert_eq!(
        alice_ws.go_away_code().await,
        pb::GoAwayCode::AccountDisabled,
        "the disabled agent's open socket is closed at once, saying why"
    );
    alice_ws.drain_until_closed().await;
    assert_eq!(
        next_offer(&mut bob_ws).await,
        conv,
        "the disabled agent's conversation goes back to the queue and on to another agent"
    );
    let (status, _) = srv.get("/api/v1/me", &alice.token).await;
    assert_eq!(status, 401, "its token no longer works");
}

#[tokio::test]
async fn a_disabled_agent_is_offered_nothing_more_and_cannot_send() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (_s1, _v1, first) = shopper_opens(&srv, "first").await;
    assert_eq!(alice_ws.accept_next_offer().await, first);
    srv.patch(
        &format!("/api/v1/agents/{}", alice.id),
        &admin.token,
        json!({"disabled": true}),
    )
    .await;
    // Whatever the socket still sends after the change is refused, never acked.
    alice_ws
        .send(text_msg(first.clone(), "after-disable", "still here?"))
        .await;
    let frames = alice_ws.drain_until_closed().await;
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, Out::Ack(a) if a.client_msg_id == "after-disable")),
        "a disabled agent's message is never acknowledged: {frames:?}"
    );
    assert!(
        frames.iter().any(
            |f| matches!(f, Out::GoAway(g) if g.code == pb::GoAwayCode::AccountDisabled as u32)
        ),
        "the socket was told why it closed: {frames:?}"
    );
    let (_s2, _v2, second) = shopper_opens(&srv, "second").await;
    let (state, agent) = conversation(&srv, &admin.token, &second).await;
    assert_eq!(
        state, "queued",
        "with nobody else online the new chat waits"
    );
    assert!(agent.is_null(), "and is not given to the disabled agent");
    let refused =
        tokio_tungstenite::connect_async(ws_request(srv.addr, "agent", &alice.token, None)).await;
    assert!(
        refused.is_err(),
        "a disabled agent cannot open a new socket"
    );
}

#[tokio::test]
async fn a_deleted_agent_is_cut_off_and_a_pending_offer_moves_on() {
    let srv = TestServer::start_with(|s| s.routing.offer_timeout_secs = 600).await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (_shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(next_offer(&mut alice_ws).await, conv, "alice is offered it");
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let mut bob_ws = srv.agent_ws(&bob).await;

    let status = srv
        .delete(&format!("/api/v1/agents/{}", alice.id), &admin.token)
        .await;
    assert_eq!(status, 204, "an admin may delete an agent");
    assert_eq!(
        alice_ws.go_away_code().await,
        pb::GoAwayCode::AccountDisabled,
        "the deleted agent's socket is closed with the reason"
    );
    assert_eq!(
        next_offer(&mut bob_ws).await,
        conv,
        "the offer the deleted agent held goes to another agent without waiting for its timeout"
    );
}

#[tokio::test]
async fn new_groups_reconnect_the_agent_and_withdraw_offers_of_groups_it_left() {
    let srv = TestServer::start_with(|s| s.routing.offer_timeout_secs = 600).await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (_shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(next_offer(&mut alice_ws).await, conv);
    let bob = srv.agent("bob", Role::Agent, &["pre-sales"], 5).await;
    let mut bob_ws = srv.agent_ws(&bob).await;

    let status = srv
        .patch(
            &format!("/api/v1/agents/{}", alice.id),
            &admin.token,
            json!({"groups": ["after-sales"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        alice_ws.go_away_code().await,
        pb::GoAwayCode::AccountChanged,
        "the re-grouped agent reconnects to pick up its new rights"
    );
    assert_eq!(
        next_offer(&mut bob_ws).await,
        conv,
        "the offer of the group alice left goes to an agent still in it"
    );
    let mut again = srv.agent_ws(&alice).await;
    again
        .send(In::Accept(pb::AcceptOffer {
            conversation_id: conv.clone(),
        }))
        .await;
    let e = again.recv_error().await;
    assert_eq!(
        e.code,
        pb::ErrorCode::Forbidden as i32,
        "after the change alice may not take a pre-sales chat: {e:?}"
    );
}

#[tokio::test]
async fn a_new_capacity_takes_effect_without_a_reconnect() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 1).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (_s1, _v1, first) = shopper_opens(&srv, "first").await;
    assert_eq!(alice_ws.accept_next_offer().await, first);
    let (_s2, _v2, second) = shopper_opens(&srv, "second").await;
    let (state, _) = conversation(&srv, &admin.token, &second).await;
    assert_eq!(state, "queued", "at capacity 1 the second chat waits");

    let status = srv
        .patch(
            &format!("/api/v1/agents/{}", alice.id),
            &admin.token,
            json!({"capacity": 2}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        next_offer(&mut alice_ws).await,
        second,
        "with room for two, the waiting chat is offered on the same socket"
    );
}

#[tokio::test]
async fn a_demoted_supervisor_is_reconnected_without_its_rights() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let sup = srv
        .agent("sup", Role::Supervisor, &["after-sales"], 5)
        .await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut alice_ws = srv.agent_ws(&alice).await;
    let (_shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(alice_ws.accept_next_offer().await, conv);
    let mut sup_ws = srv.agent_ws(&sup).await;

    srv.patch(
        &format!("/api/v1/agents/{}", sup.id),
        &admin.token,
        json!({"role": "agent"}),
    )
    .await;
    assert_eq!(
        sup_ws.go_away_code().await,
        pb::GoAwayCode::AccountChanged,
        "the demoted supervisor's socket (a watcher of every chat) is closed"
    );
    let mut again = srv.agent_ws(&sup).await;
    again
        .send(In::Close(pb::CloseConversation {
            conversation_id: conv.clone(),
        }))
        .await;
    let e = again.recv_error().await;
    assert_eq!(
        e.code,
        pb::ErrorCode::Forbidden as i32,
        "as an agent it may no longer close another agent's chat: {e:?}"
    );
}

#[tokio::test]
async fn a_logout_closes_that_sign_in_and_leaves_the_other_device() {
    let srv = TestServer::start().await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let phone_token = srv.login("alice", PASSWORD).await;
    let mut laptop = srv.agent_ws(&alice).await;
    let mut phone = Ws::connect(srv.addr, "agent", &phone_token, None).await;

    let (status, _) = srv
        .post("/api/v1/auth/logout", &alice.token, json!({}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        laptop.go_away_code().await,
        pb::GoAwayCode::SignedOut,
        "the socket opened with the revoked token closes at once"
    );
    let (_shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(
        next_offer(&mut phone).await,
        conv,
        "the other sign-in keeps working and is offered the next chat"
    );
}

#[tokio::test]
async fn a_new_password_signs_out_every_socket() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let alice = srv.agent("alice", Role::Agent, &["pre-sales"], 5).await;
    let mut ws = srv.agent_ws(&alice).await;
    let status = srv
        .patch(
            &format!("/api/v1/agents/{}", alice.id),
            &admin.token,
            json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        ws.go_away_code().await,
        pb::GoAwayCode::SignedOut,
        "tokens issued with the old password are revoked, and their sockets closed"
    );
}

#[tokio::test]
async fn a_deleted_bot_is_refused_at_its_next_request() {
    let srv = TestServer::start().await;
    let admin = srv.agent("admin", Role::Admin, &[], 5).await;
    let (status, bot) = srv
        .post("/api/v1/bots", &admin.token, json!({"name": "helper"}))
        .await;
    assert_eq!(status, 201, "{bot}");
    let bot_token = bot["token"].as_str().unwrap().to_string();
    let (_shopper, _v, conv) = shopper_opens(&srv, "hello").await;
    let path = format!("/api/v1/bot/conversations/{conv}");
    assert_eq!(srv.get(&path, &bot_token).await.0, 200, "the bot works");
    let status = srv
        .delete(
            &format!("/api/v1/bots/{}", bot["id"].as_str().unwrap()),
            &admin.token,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = srv.get(&path, &bot_token).await;
    assert_eq!(
        status, 401,
        "a deleted bot's token is refused at once: {body}"
    );
}
