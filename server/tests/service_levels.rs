//! Service levels against the real server: a conversation nobody answers breaches its
//! first-response target once (webhook, plugin, metric, `sla_breach` row), an answered one
//! does not, an open one breaches resolution, a closed one nothing; and with business hours
//! configured so that now is closed, nothing breaches at all.
//!
//! Targets are seconds long and the sweep runs five times a second, so the breaches come
//! quickly; the tests wait for them with a deadline and never assert on elapsed time.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use common::*;
use kefu_server::{
    config::{Settings, service_levels::Span},
    plugins::{Context, HookResult, Lifecycle, Plugin, Registry},
    store::{Role, Target},
    webhooks::WebhookSettings,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

const HOOK_SECRET: &str = "whsec-0123456789-abcdef";
/// Both targets in these tests.
const TARGET_MS: i64 = 3000;

/// Bodies of the webhook requests received, in arrival order.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Value>>>);

impl Receiver {
    /// Starts on 127.0.0.1:0; returns it and the URL to configure.
    async fn start() -> (Self, String) {
        let me = Self::default();
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(me.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (me, url)
    }

    /// `(conversation, target)` of every `conversation.sla_breached` received.
    fn breaches(&self) -> Vec<(String, String)> {
        let mut seen: Vec<_> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["event"] == "conversation.sla_breached")
            .map(|v| {
                let conv = v["conversation"]["id"].as_str().unwrap_or("").to_string();
                let target = v["change"]["target"].as_str().unwrap_or("").to_string();
                (conv, target)
            })
            .collect();
        seen.sort();
        seen
    }

    fn body_of(&self, conv: &str, target: &str) -> Value {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|v| v["conversation"]["id"] == conv && v["change"]["target"] == target)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

async fn receive(State(r): State<Receiver>, body: Bytes) -> StatusCode {
    let v = serde_json::from_slice(&body).expect("webhook bodies are JSON");
    r.0.lock().unwrap().push(v);
    StatusCode::OK
}

/// A plugin that records every breach it hears: `(conversation, target, due_at)`.
struct Watcher(Arc<Mutex<Vec<(String, String, i64)>>>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

#[async_trait]
impl Plugin for Watcher {
    fn name(&self) -> &str {
        "sla_watcher"
    }
    async fn on_lifecycle(&self, ctx: &mut Context, e: &Lifecycle) -> HookResult {
        if let Lifecycle::ServiceLevelBreached { target, due_at } = e {
            let conv = ctx.conversation.id.to_string();
            self.0.lock().unwrap().push((conv, target.clone(), *due_at));
        }
        Ok(())
    }
}

type Heard = Arc<Mutex<Vec<(String, String, i64)>>>;

/// The server with 3-second targets, a quick sweep, a webhook to `url` and the watcher
/// plugin; `tweak` changes the rest.
async fn start(url: &str, tweak: impl FnOnce(&mut Settings)) -> (TestServer, Heard) {
    let heard = Heard::default();
    let sink = heard.clone();
    let registry =
        Registry::builtin().register("sla_watcher", move |_: Nothing| Ok(Watcher(sink.clone())));
    let url = url.to_string();
    let srv = TestServer::start_with_plugins(
        move |s| {
            let target = Some(Span(Duration::from_millis(TARGET_MS as u64)));
            s.service_levels.first_response = target;
            s.service_levels.resolution = target;
            s.service_levels.sweep_interval = Span(Duration::from_millis(200));
            s.routing.auto_accept = true;
            let mut hook = WebhookSettings::new("escalation", url, HOOK_SECRET);
            hook.events = vec!["conversation.sla_breached".into()];
            hook.retry_initial_ms = 20;
            s.webhooks.push(hook);
            s.plugins.insert("sla_watcher".into(), json!({}));
            tweak(s);
        },
        registry,
    )
    .await;
    (srv, heard)
}

/// What `kefu_sla_breaches_total{target}` shows (0 before the first breach of the process).
async fn breaches_counted(srv: &TestServer, target: &str) -> u64 {
    let series = format!("kefu_sla_breaches_total{{target=\"{target}\"}} ");
    srv.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// When the conversation was opened, unix ms.
async fn opened_at(srv: &TestServer, conv: &str) -> i64 {
    let id: Uuid = conv.parse().unwrap();
    srv.store.conversation(id).await.unwrap().created_at
}

#[tokio::test]
async fn each_missed_target_fires_once_and_met_ones_never() {
    let (receiver, url) = Receiver::start().await;
    let (srv, heard) = start(&url, |_| {}).await;
    let first_before = breaches_counted(&srv, "first_response").await;
    let resolution_before = breaches_counted(&srv, "resolution").await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut desk = srv.agent_ws(&agent).await;

    // Answered: assigned at once (auto-accept), and the agent replies straight away, well
    // inside the 3-second first-response target. It stays open: resolution is missed.
    let (_answered_shopper, _, answered) = shopper_opens(&srv, "where is my parcel?").await;
    let assigned = desk
        .recv_event(|e| {
            matches!(
                e.kind,
                Some(kefu_proto::v1::conversation_event::Kind::Assigned(_))
            )
            .then(|| e.conversation_id.clone())
        })
        .await;
    assert_eq!(assigned, answered, "the only agent gets it");
    desk.say(&answered, "reply-1", "it ships today").await;
    let replied_by = opened_at(&srv, &answered).await + TARGET_MS;
    let clock = srv
        .store
        .conversation(answered.parse().unwrap())
        .await
        .unwrap();
    assert!(
        clock.updated_at < replied_by,
        "precondition: the reply was stored before the first response fell due"
    );

    // Closed by its shopper at once: neither target can be missed.
    let (_closing_shopper, closing_visitor, closed) = shopper_opens(&srv, "never mind").await;
    let (status, body) = srv
        .post(
            &format!("/api/v1/conversations/{closed}/close"),
            &closing_visitor.token,
            json!({}),
        )
        .await;
    assert_eq!(status, 204, "the shopper closes it: {body}");

    // Nobody answers this one: both targets are missed.
    let (_ignored_shopper, _, ignored) = shopper_opens(&srv, "hello? anyone?").await;

    let mut expected = vec![
        (answered.clone(), "resolution".to_string()),
        (ignored.clone(), "first_response".to_string()),
        (ignored.clone(), "resolution".to_string()),
    ];
    expected.sort();
    eventually("the three breaches reach the webhook", || async {
        (receiver.breaches().len() >= expected.len()).then_some(())
    })
    .await;
    // Ten more sweeps: a breach announced twice would show up by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        receiver.breaches(),
        expected,
        "one event per missed target; none for the reply given in time or the closed one"
    );

    let body = receiver.body_of(&ignored, "first_response");
    let due = opened_at(&srv, &ignored).await + TARGET_MS;
    assert_eq!(
        body["change"],
        json!({"type": "service_level_breached", "target": "first_response", "due_at": due}),
        "the change names the target and when it fell due (opened + 3 s, no hours)"
    );
    assert_eq!(body["event"], "conversation.sla_breached");
    assert_eq!(body["conversation"]["group"], "pre-sales");

    let mut plugin_saw: Vec<_> = eventually("the plugin hears all three", || async {
        let h = heard.lock().unwrap().clone();
        (h.len() >= 3).then_some(h)
    })
    .await
    .into_iter()
    .map(|(c, t, _)| (c, t))
    .collect();
    plugin_saw.sort();
    assert_eq!(
        plugin_saw, expected,
        "plugins hear exactly what webhooks hear"
    );

    assert_eq!(
        breaches_counted(&srv, "first_response").await - first_before,
        1,
        "one first response missed"
    );
    assert_eq!(
        breaches_counted(&srv, "resolution").await - resolution_before,
        2,
        "two resolutions missed"
    );

    let mut rows: Vec<_> = srv
        .store
        .open_breaches()
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.conversation_id.to_string(), b.target))
        .collect();
    rows.sort();
    let mut expected_rows = vec![
        (answered.clone(), Target::Resolution),
        (ignored.clone(), Target::FirstResponse),
        (ignored.clone(), Target::Resolution),
    ];
    expected_rows.sort();
    assert_eq!(rows, expected_rows, "one sla_breach row per breach");
    srv.shutdown().await;
}

/// UTC offset (`+HH:MM`) whose local time now is about 03:00, so that 12:00–13:00 opening
/// hours are at least eight hours away whenever the test runs.
fn offset_where_it_is_3am_now() -> String {
    let utc_minute = (kefu_server::store::now_ms() / 60_000).rem_euclid(1440);
    let mut offset = 180 - utc_minute;
    if offset < -720 {
        offset += 1440;
    }
    let sign = if offset < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)
}

#[tokio::test]
async fn nothing_breaches_while_the_shop_is_closed() {
    let (receiver, url) = Receiver::start().await;
    let hours = json!({
        "utc_offset": offset_where_it_is_3am_now(),
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "open": "12:00",
        "close": "13:00",
    });
    let (srv, heard) = start(&url, |s| {
        s.plugins.insert("business_hours".into(), hours);
    })
    .await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "hello at night").await;
    let reply = shopper.recv_message(is_bot).await;
    assert!(
        text_of(&reply).is_some_and(|t| t.contains("Leave us a message")),
        "the business-hours plugin agrees the shop is closed: {reply:?}"
    );
    // Past both 3-second targets, ten sweeps and more: the clocks are paused.
    tokio::time::sleep(Duration::from_millis(TARGET_MS as u64 + 2000)).await;
    assert_eq!(receiver.breaches(), [], "no breach while closed");
    assert!(heard.lock().unwrap().is_empty(), "plugins heard none");
    assert!(
        srv.store.open_breaches().await.unwrap().is_empty(),
        "no sla_breach row for {conv}"
    );
    srv.shutdown().await;
}
