//! Outgoing webhooks against a local receiver: signed JSON, retries that keep their delivery
//! id, one delivery per event, private notes kept inside, the admin delivery log, final
//! refusals, and a receiver that is down while the chat goes on.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use common::*;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In};
use kefu_server::{
    store::Role,
    webhooks::{self, WebhookSettings},
};
use serde_json::{Value, json};

const HOOK_SECRET: &str = "whsec-0123456789-abcdef";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Seen {
    headers: HashMap<String, String>,
    body: Bytes,
    /// What the receiver answered.
    status: u16,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook bodies are JSON")
    }
}

/// A webhook receiver answering the n-th attempt of each delivery with `script[n]`, and 200
/// once the script runs out.
#[derive(Clone)]
struct Receiver {
    script: Arc<Vec<u16>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    /// Starts on 127.0.0.1:0; returns it and the URL to configure.
    async fn start(script: &[u16]) -> (Self, String) {
        let me = Self {
            script: Arc::new(script.to_vec()),
            seen: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(me.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (me, url)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests carrying a message whose text is `text`, in arrival order.
    fn about_text(&self, text: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.json()["message"]["body"]["text"] == text)
            .collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut seen = r.seen.lock().unwrap();
    let delivery = headers.get("x-kefu-delivery").cloned();
    let nth = seen
        .iter()
        .filter(|s| s.headers.get("x-kefu-delivery") == delivery.as_ref())
        .count();
    let status = r.script.get(nth).copied().unwrap_or(200);
    seen.push(Seen {
        headers,
        body,
        status,
    });
    StatusCode::from_u16(status).unwrap()
}

/// A webhook with quick retries, so tests do not wait half a second per retry.
fn hook(name: &str, url: &str, events: &[&str]) -> WebhookSettings {
    let mut h = WebhookSettings::new(name, url, HOOK_SECRET);
    h.events = events.iter().map(|e| e.to_string()).collect();
    h.retry_initial_ms = 20;
    h.timeout_ms = 2000;
    h
}

/// The delivery log as an admin reads it, newest first.
async fn delivery_log(srv: &TestServer, admin: &TestAgent) -> Vec<Value> {
    let (status, v) = srv
        .get("/api/v1/admin/webhooks/deliveries?limit=100", &admin.token)
        .await;
    assert_eq!(status, 200, "admins read the delivery log: {v}");
    v.as_array().expect("a JSON list").clone()
}

/// Log rows of one delivery, newest first.
fn rows_of(log: &[Value], delivery: &str) -> Vec<Value> {
    log.iter()
        .filter(|r| r["delivery_id"] == delivery)
        .cloned()
        .collect()
}

/// The count `kefu_webhook_deliveries_total` shows for `webhook` and `outcome`, once it
/// has counted something (the series exists at 0 from start-up).
async fn deliveries_metric(srv: &TestServer, webhook: &str, outcome: &str) -> Option<u64> {
    let text = srv.metrics().await;
    let series =
        format!("kefu_webhook_deliveries_total{{webhook=\"{webhook}\",outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|n| n.trim().parse().ok())
        .filter(|n| *n > 0)
}

#[tokio::test]
async fn an_event_is_signed_retried_under_one_id_and_delivered_once() {
    let (receiver, url) = Receiver::start(&[500]).await;
    let srv = TestServer::start_with(|s| {
        s.webhooks
            .push(hook("crm-retry", &url, &["message.created"]));
    })
    .await;
    let admin = srv.agent("root", Role::Admin, &[], 5).await;
    let (_shopper, visitor, conv) = shopper_opens(&srv, "你好 webhook 🌸").await;

    let tries = eventually("the shopper's message delivered after one 500", || async {
        let tries = receiver.about_text("你好 webhook 🌸");
        (tries.iter().any(|s| s.status == 200)).then_some(tries)
    })
    .await;
    assert_eq!(
        tries.iter().map(|s| s.status).collect::<Vec<_>>(),
        [500, 200],
        "the first attempt failed, the retry succeeded"
    );
    let (first, retry) = (&tries[0], &tries[1]);
    let delivery = first.header("x-kefu-delivery").to_string();
    assert_eq!(
        retry.header("x-kefu-delivery"),
        delivery,
        "a retry carries the same delivery id, so receivers can deduplicate"
    );
    assert_eq!(first.body, retry.body, "a retry sends the same body");

    for s in &tries {
        assert_eq!(s.header("content-type"), "application/json");
        assert_eq!(s.header("x-kefu-event"), "message.created");
        let ts = s.header("x-kefu-timestamp");
        let age = now_secs() - ts.parse::<i64>().expect("unix seconds");
        assert!(
            (0..300).contains(&age),
            "the timestamp is the sending time: {ts}"
        );
        let sig = s.header("x-kefu-signature");
        assert!(
            webhooks::verify(HOOK_SECRET, ts, &s.body, sig),
            "the signature verifies with the webhook's secret: {sig}"
        );
        assert!(
            !webhooks::verify("some-other-secret-0123", ts, &s.body, sig),
            "and not with another secret"
        );
        assert!(
            !webhooks::verify(HOOK_SECRET, "1", &s.body, sig),
            "the timestamp is part of what is signed"
        );
    }

    let v = retry.json();
    assert_eq!(v["id"], delivery, "the body names the delivery too");
    assert_eq!(v["event"], "message.created");
    assert!(
        v["created_at"].as_i64().unwrap() > 1_700_000_000_000,
        "unix ms"
    );
    let c = &v["conversation"];
    assert_eq!(c["id"], conv.as_str());
    assert_eq!(c["site_id"], SITE);
    assert_eq!(c["group"], "pre-sales");
    assert_eq!(c["state"], "queued", "nobody has taken it yet");
    assert_eq!(c["agent_id"], Value::Null);
    assert_eq!(c["tags"], json!([]));
    assert_eq!(c["priority"], "normal");
    assert_eq!(c["visitor_id"], visitor.id.as_str());
    let m = &v["message"];
    assert_eq!(m["seq"], 1, "the conversation's first message");
    assert_eq!(m["sender_role"], "shopper");
    assert_eq!(m["sender_id"], visitor.id.as_str());
    assert_eq!(
        m["body"],
        json!({"type": "text", "text": "你好 webhook 🌸"})
    );
    assert!(m["client_msg_id"].is_string() && m["id"].is_string());
    assert!(
        v.get("change").is_none(),
        "only conversation.* events carry a change"
    );

    // An agent takes the chat, leaves a private note, then answers. The note is stored
    // before the answer, so once the answer has been delivered the note would have been
    // handed to delivery too if it were sent at all.
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut agent_ws = srv.agent_ws(&agent).await;
    agent_ws.accept_next_offer().await;
    agent_ws
        .send(In::Send(pb::SendMessage {
            conversation_id: conv.clone(),
            client_msg_id: "note-1".into(),
            body: Some(note_body("VIP: 别让她等 secret-note")),
            group: String::new(),
            context: None,
        }))
        .await;
    agent_ws.say(&conv, "answer-1", "马上为您查询").await;
    eventually("the agent's answer delivered", || async {
        receiver
            .about_text("马上为您查询")
            .iter()
            .any(|s| s.status == 200)
            .then_some(())
    })
    .await;
    let seen = receiver.seen();
    assert!(
        seen.iter()
            .all(|s| !String::from_utf8_lossy(&s.body).contains("secret-note")),
        "private notes are never sent to webhooks"
    );
    assert_eq!(
        receiver.about_text("你好 webhook 🌸").len(),
        2,
        "nothing is delivered again after the receiver took it"
    );
    let answer = &receiver.about_text("马上为您查询")[0].json();
    assert_eq!(answer["message"]["sender_role"], "agent");
    assert_eq!(
        answer["conversation"]["state"], "assigned",
        "loaded at send time"
    );
    assert_eq!(answer["conversation"]["agent_id"], agent.id.as_str());

    // The log shows the failed attempt, then the delivered one (newest first).
    let log = delivery_log(&srv, &admin).await;
    let rows = rows_of(&log, &delivery);
    assert_eq!(rows.len(), 2, "one row per attempt: {rows:?}");
    let (newest, oldest) = (&rows[0], &rows[1]);
    assert_eq!(
        (&oldest["attempt"], &oldest["status"], &oldest["delivered"]),
        (&json!(1), &json!(500), &json!(false))
    );
    assert_eq!(oldest["error"], "HTTP 500 Internal Server Error");
    assert_eq!(oldest["webhook"], "crm-retry");
    assert_eq!(oldest["event"], "message.created");
    assert_eq!(
        (&newest["attempt"], &newest["status"], &newest["delivered"]),
        (&json!(2), &json!(200), &json!(true))
    );
    assert_eq!(newest["error"], Value::Null);
    assert!(newest["duration_ms"].as_i64().unwrap() >= 0);
    let ats: Vec<i64> = log.iter().map(|r| r["at"].as_i64().unwrap()).collect();
    assert!(
        ats.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {ats:?}"
    );

    let (status, _) = srv
        .get("/api/v1/admin/webhooks/deliveries?limit=0", &admin.token)
        .await;
    assert_eq!(status, 400, "a limit below 1 is refused");
    let (status, _) = srv
        .get("/api/v1/admin/webhooks/deliveries", &agent.token)
        .await;
    assert_eq!(status, 403, "agents may not read the delivery log");
    let supervisor = srv.agent("sue", Role::Supervisor, &[], 5).await;
    let (status, _) = srv
        .get("/api/v1/admin/webhooks/deliveries", &supervisor.token)
        .await;
    assert_eq!(status, 403, "nor may supervisors: it is for admins");
    let (status, _) = srv
        .get("/api/v1/admin/webhooks/deliveries", &visitor.token)
        .await;
    assert!(
        status == 401 || status == 403,
        "shoppers may not either: {status}"
    );

    let delivered = eventually("the metric counts deliveries", || async {
        deliveries_metric(&srv, "crm-retry", "delivered").await
    })
    .await;
    assert!(delivered >= 2, "both messages were delivered: {delivered}");
    srv.shutdown().await;
}

#[tokio::test]
async fn a_refusal_is_final_and_a_webhook_hears_only_the_events_it_asked_for() {
    let (receiver, url) = Receiver::start(&[410]).await;
    let srv = TestServer::start_with(|s| {
        s.webhooks
            .push(hook("crm-gone", &url, &["conversation.opened"]));
    })
    .await;
    let admin = srv.agent("root", Role::Admin, &[], 5).await;
    let (_shopper, _, conv) = shopper_opens(&srv, "hello").await;
    eventually("the refusal counted", || async {
        deliveries_metric(&srv, "crm-gone", "rejected").await
    })
    .await;
    let seen = receiver.seen();
    assert_eq!(
        seen.len(),
        1,
        "a 410 is not retried, and the message was not asked for"
    );
    let v = seen[0].json();
    assert_eq!(seen[0].header("x-kefu-event"), "conversation.opened");
    assert_eq!(v["event"], "conversation.opened");
    assert_eq!(v["conversation"]["id"], conv.as_str());
    assert_eq!(v["change"], json!({"type": "opened", "reopened": false}));
    assert!(
        v.get("message").is_none(),
        "lifecycle events carry no message"
    );
    let log = delivery_log(&srv, &admin).await;
    assert_eq!(log.len(), 1, "one attempt logged: {log:?}");
    assert_eq!(log[0]["status"], 410);
    assert_eq!(log[0]["delivered"], false);
    srv.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_is_retried_and_logged_while_the_chat_goes_on() {
    // A port nobody listens on: every attempt is refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let srv = TestServer::start_with(|s| {
        let mut h = hook("crm-down", &url, &["message.created"]);
        h.max_attempts = 3;
        s.webhooks.push(h);
    })
    .await;
    let admin = srv.agent("root", Role::Admin, &[], 5).await;

    // `shopper_opens` and `say` wait for the acks: the chat is not held up.
    let (mut shopper, _, conv) = shopper_opens(&srv, "anyone there?").await;
    shopper.say(&conv, "second", "still here").await;

    let failed = eventually("both messages given up on", || async {
        deliveries_metric(&srv, "crm-down", "failed")
            .await
            .filter(|n| *n >= 2)
    })
    .await;
    assert_eq!(failed, 2, "each message is one failed delivery");
    let log = delivery_log(&srv, &admin).await;
    assert_eq!(
        log.len(),
        6,
        "three attempts for each of the two messages: {log:?}"
    );
    for row in &log {
        assert_eq!(row["delivered"], false);
        assert_eq!(row["status"], Value::Null, "nobody answered");
        let error = row["error"].as_str().unwrap();
        assert!(error.starts_with("connecting failed"), "says why: {error}");
        assert!(
            !error.contains("/hook"),
            "the URL stays out of the log: {error}"
        );
    }
    let mut by_delivery: HashMap<&str, Vec<i64>> = HashMap::new();
    for row in &log {
        by_delivery
            .entry(row["delivery_id"].as_str().unwrap())
            .or_default()
            .push(row["attempt"].as_i64().unwrap());
    }
    for attempts in by_delivery.values() {
        assert_eq!(attempts, &[3, 2, 1], "max_attempts = 3, newest first");
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn a_bad_webhook_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (mut settings, _database) = test_settings_and_database(dir.path());
    settings.webhooks.push(WebhookSettings::new(
        "crm",
        "http://127.0.0.1:9/hook",
        HOOK_SECRET,
    ));
    settings.webhooks.push(WebhookSettings::new(
        "bot",
        "http://127.0.0.1:9/hook",
        "short",
    ));
    let store = kefu_server::open_store(&settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = kefu_server::run(settings, store, listener, std::future::pending())
        .await
        .expect_err("a short secret is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("`webhooks[1].secret`"),
        "names the key: {text}"
    );
    assert!(
        text.contains("at least 16 characters"),
        "says what is expected: {text}"
    );
}

/// Unix seconds now.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
