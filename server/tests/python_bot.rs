//! `examples/shipping_bot.py`, unchanged, against a real server: Kefu's signed webhooks
//! reach it, and it answers and hands off through the bot API.

mod common;

use std::process::Stdio;

use common::*;
use kefu_proto::v1 as pb;
use kefu_server::{
    store::{Priority, Role},
    webhooks::WebhookSettings,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

const SECRET: &str = "python-bot-webhook-secret-0123456789";

/// A port free right now on 127.0.0.1 (the bot binds it; Kefu needs it in its settings first).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_example_python_bot_answers_and_hands_off() {
    let port = free_port();
    let srv = TestServer::start_with(|s| {
        s.webhooks.push(WebhookSettings {
            name: "shipping-bot".into(),
            url: format!("http://127.0.0.1:{port}/"),
            secret: SECRET.into(),
            events: vec!["message.created".into()],
            max_attempts: 8,
            timeout_ms: 5000,
            retry_initial_ms: 100,
        });
    })
    .await;
    let admin = srv.agent("root", Role::Admin, &["pre-sales"], 5).await;
    let (status, bot) = srv
        .post(
            "/api/v1/bots",
            &admin.token,
            json!({"name": "Shipping bot"}),
        )
        .await;
    assert_eq!(status, 201);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shipping_bot.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .args([
            "--kefu",
            &srv.url(""),
            "--secret",
            SECRET,
            "--port",
            &port.to_string(),
        ])
        .args(["--token", bot["token"].as_str().unwrap()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs (scripts/setup.sh installs it)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.unwrap_or_default().contains("listening"),
        "the bot started"
    );

    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut desk = srv.agent_ws(&agent).await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "请问什么时候发货？").await;
    let answer = shopper.recv_bot_message().await;
    assert_eq!(answer.sender.as_ref().unwrap().display_name, "Shipping bot");
    assert!(text_of(&answer).unwrap().contains("24"), "{answer:?}");
    let id = conv.parse().unwrap();
    eventually("the bot tagged the conversation", || async {
        let c = srv.store.conversation(id).await.unwrap();
        c.tags.contains(&"shipping".to_string()).then_some(())
    })
    .await;

    desk.accept_next_offer().await;
    shopper.say(&conv, "human-please", "我要转人工").await;
    let note = desk
        .recv_message(|m| {
            matches!(
                &m.body,
                Some(pb::MessageBody {
                    kind: Some(pb::message_body::Kind::PrivateNote(_))
                })
            )
        })
        .await;
    assert_eq!(note.sender.unwrap().role, pb::Role::Bot as i32);
    // The note comes first; tag and priority follow within the same bot request.
    eventually("handed off with high priority", || async {
        let c = srv.store.conversation(id).await.unwrap();
        (c.priority == Priority::High && c.tags.contains(&"handoff".to_string())).then_some(())
    })
    .await;
    // Exactly one answer, though events may have been retried while the bot started.
    let history = srv.store.messages_after(id, 0, 100, true).await.unwrap();
    let bot_answers = history
        .iter()
        .filter(|m| m.client_msg_id.starts_with("shipping-"))
        .count();
    assert_eq!(bot_answers, 1);
    child.kill().await.unwrap();
    srv.shutdown().await;
}
