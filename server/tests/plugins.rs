//! The plugin bus against the real server: priority order, stop, lifecycle hooks, queue
//! priority, and isolation of plugins that hang, panic or fail.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::*;
use kefu_proto::v1::{self as pb, server_envelope::Kind as Out};
use kefu_server::{
    plugins::{Context, HookResult, Lifecycle, Plugin, Registry},
    store::{Body, Priority, Role, SenderRole, StoredMessage},
};
use serde::Deserialize;
use serde_json::json;

/// Replies `reply` to every shopper message; stops the chain if `stop` is set.
struct Echo {
    name: String,
    reply: String,
    stop: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoSettings {
    reply: String,
    #[serde(default)]
    stop: bool,
}

#[async_trait]
impl Plugin for Echo {
    fn name(&self) -> &str {
        &self.name
    }
    async fn on_message(&self, ctx: &mut Context, m: &StoredMessage) -> HookResult {
        if m.sender_role == SenderRole::Shopper {
            ctx.reply(self.reply.clone());
            if self.stop {
                ctx.stop();
            }
        }
        Ok(())
    }
}

/// Misbehaves on every message in the way its name says.
struct Rogue(&'static str);

#[async_trait]
impl Plugin for Rogue {
    fn name(&self) -> &str {
        self.0
    }
    async fn on_message(&self, ctx: &mut Context, _: &StoredMessage) -> HookResult {
        ctx.reply(format!("{} should never be heard", self.0));
        match self.0 {
            "sleeper" => std::future::pending().await,
            "panicker" => panic!("a plugin bug"),
            _ => anyhow::bail!("the plugin's back end is down"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

fn echo(registry: Registry, name: &'static str) -> Registry {
    registry.register(name, move |s: EchoSettings| {
        Ok(Echo {
            name: name.to_string(),
            reply: s.reply,
            stop: s.stop,
        })
    })
}

/// A settings tweak declaring `plugins` as `(name, settings)`.
fn declare<const N: usize>(
    plugins: [(&'static str, serde_json::Value); N],
) -> impl FnOnce(&mut kefu_server::config::Settings) {
    move |s| {
        for (name, settings) in plugins {
            s.plugins.insert(name.into(), settings);
        }
    }
}

/// Bot messages the shopper receives, as text, until `n` arrived.
async fn bot_texts(ws: &mut Ws, n: usize) -> Vec<String> {
    let mut texts = Vec::new();
    while texts.len() < n {
        let m = ws.recv_bot_message().await;
        texts.push(text_of(&m).unwrap_or_default().to_string());
    }
    texts
}

#[tokio::test]
async fn plugins_run_in_priority_order_and_stop_ends_the_chain() {
    let registry = ["low", "high", "middle", "stopper"]
        .into_iter()
        .fold(Registry::empty(), echo);
    let srv = TestServer::start_with_plugins(
        declare([
            ("low", json!({"reply": "low", "priority": 10})),
            ("high", json!({"reply": "high", "priority": 30})),
            ("middle", json!({"reply": "middle", "priority": 20})),
            // Disabled: declared, but never runs.
            (
                "stopper",
                json!({"reply": "stop", "stop": true, "priority": 25, "enabled": false}),
            ),
        ]),
        registry,
    )
    .await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(bot_texts(&mut shopper, 3).await, ["high", "middle", "low"]);
    shopper.say(&conv, "second", "again").await;
    assert_eq!(bot_texts(&mut shopper, 3).await, ["high", "middle", "low"]);
    srv.shutdown().await;

    let registry = ["low", "high", "stopper"]
        .into_iter()
        .fold(Registry::empty(), echo);
    let srv = TestServer::start_with_plugins(
        declare([
            ("low", json!({"reply": "low", "priority": 10})),
            ("high", json!({"reply": "high", "priority": 30})),
            (
                "stopper",
                json!({"reply": "stop", "stop": true, "priority": 20}),
            ),
        ]),
        registry,
    )
    .await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "hello").await;
    assert_eq!(bot_texts(&mut shopper, 2).await, ["high", "stop"]);
    // "low" never answered: the next bot message is the next round's first.
    shopper.say(&conv, "second", "again").await;
    assert_eq!(bot_texts(&mut shopper, 1).await, ["high"]);
    srv.shutdown().await;
}

#[tokio::test]
async fn hanging_panicking_and_failing_plugins_are_skipped_and_the_message_flows() {
    let registry = ["sleeper", "panicker", "failer"]
        .into_iter()
        .fold(Registry::empty(), |r, name| {
            r.register(name, move |_: Nothing| Ok(Rogue(name)))
        });
    let registry = echo(registry, "echo");
    let srv = TestServer::start_with_plugins(
        declare([
            ("sleeper", json!({"priority": 40, "timeout_ms": 300})),
            ("panicker", json!({"priority": 30})),
            ("failer", json!({"priority": 20})),
            ("echo", json!({"reply": "still here", "priority": 10})),
        ]),
        registry,
    )
    .await;
    let agent = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut desk = srv.agent_ws(&agent).await;
    let (mut shopper, _, conv) = shopper_opens(&srv, "first").await;
    desk.accept_next_offer().await;
    for i in 0..3 {
        // Acked and delivered to the agent, whatever the plugins do.
        let id = format!("m{i}");
        let ack = shopper.say(&conv, &id, &format!("message {i}")).await;
        let seen = desk.recv_message(|m| m.client_msg_id == id).await;
        assert_eq!(seen.seq, ack.seq);
    }
    // Only the well-behaved plugin is heard, once per message, and nothing of the others.
    let conv_id = conv.parse().unwrap();
    let history = eventually("four replies from the well-behaved plugin", || async {
        let h = srv
            .store
            .messages_after(conv_id, 0, 100, true)
            .await
            .unwrap();
        let bot = h
            .iter()
            .filter(|m| m.sender_role == SenderRole::Bot)
            .count();
        (bot >= 4).then_some(h)
    })
    .await;
    let replies: Vec<_> = history
        .iter()
        .filter(|m| m.sender_role == SenderRole::Bot)
        .map(|m| m.body.clone())
        .collect();
    assert_eq!(
        replies,
        vec![
            Body::Text {
                text: "still here".into()
            };
            4
        ]
    );
    let metrics = srv.metrics().await;
    for (plugin, outcome) in [
        ("sleeper", "timeout"),
        ("panicker", "panic"),
        ("failer", "error"),
        ("echo", "ok"),
    ] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("kefu_plugin_calls_total")
                    && l.contains("hook=\"message\"")
                    && l.contains(&format!("plugin=\"{plugin}\""))
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .unwrap_or_else(|| panic!("no {plugin} {outcome} count in /metrics"));
        let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(count, 4.0, "{line}");
    }
    srv.shutdown().await;
}

/// Records every lifecycle hook it hears.
struct Recorder(Arc<Mutex<Vec<Lifecycle>>>);

#[async_trait]
impl Plugin for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn on_lifecycle(&self, _: &mut Context, event: &Lifecycle) -> HookResult {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

#[tokio::test]
async fn lifecycle_hooks_hear_open_assign_transfer_and_close() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let registry =
        Registry::empty().register("recorder", move |_: Nothing| Ok(Recorder(sink.clone())));
    let srv = TestServer::start_with_plugins(declare([("recorder", json!({}))]), registry).await;
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 5).await;
    let mut desk = srv.agent_ws(&ann).await;
    let (_shopper, _, conv) = shopper_opens(&srv, "hi").await;
    desk.accept_next_offer().await;
    desk.send(pb::client_envelope::Kind::Transfer(
        pb::TransferConversation {
            conversation_id: conv.clone(),
            to_group: "after-sales".into(),
            ..Default::default()
        },
    ))
    .await;
    desk.recv_event(|e| {
        matches!(e.kind, Some(pb::conversation_event::Kind::Transferred(_))).then_some(())
    })
    .await;
    let (status, _) = srv
        .post(
            &format!("/api/v1/conversations/{conv}/close"),
            &ann_supervisor(&srv).await,
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let names = eventually("four lifecycle events", || {
        let heard = heard.clone();
        async move {
            let h = heard.lock().unwrap().clone();
            (h.len() >= 4).then_some(h)
        }
    })
    .await;
    let ann_id: uuid::Uuid = ann.id.parse().unwrap();
    assert_eq!(names[0], Lifecycle::Opened { reopened: false });
    assert!(matches!(&names[1], Lifecycle::Assigned { agent_id, .. } if *agent_id == ann_id));
    assert!(
        matches!(&names[2], Lifecycle::Transferred { to_group: Some(g), .. } if g == "after-sales")
    );
    assert_eq!(
        names[3],
        Lifecycle::Closed {
            reason: "agent".into()
        }
    );
    srv.shutdown().await;
}

async fn ann_supervisor(srv: &TestServer) -> String {
    srv.agent("sue", Role::Supervisor, &["pre-sales"], 5)
        .await
        .token
}

/// Marks conversations whose first words are "urgent" as urgent.
struct Triage;

#[async_trait]
impl Plugin for Triage {
    fn name(&self) -> &str {
        "triage"
    }
    async fn on_message(&self, ctx: &mut Context, m: &StoredMessage) -> HookResult {
        if format!("{:?}", m.body).contains("urgent") {
            ctx.set_priority(Priority::Urgent);
            ctx.tag("triaged");
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_conversation_made_urgent_is_offered_before_older_ones() {
    let registry = Registry::empty().register("triage", |_: Nothing| Ok(Triage));
    let srv = TestServer::start_with_plugins(declare([("triage", json!({}))]), registry).await;
    let (_a, _, first) = shopper_opens(&srv, "a question").await;
    let (_b, _, second) = shopper_opens(&srv, "another question").await;
    let (_c, _, urgent) = shopper_opens(&srv, "urgent: charged twice").await;
    let id = urgent.parse().unwrap();
    eventually("the plugin raised the priority and tagged", || async {
        let c = srv.store.conversation(id).await.unwrap();
        (c.priority == Priority::Urgent && c.tags == ["triaged"]).then_some(())
    })
    .await;
    // The only agent comes online with room for one: the urgent one is offered first.
    let ann = srv.agent("ann", Role::Agent, &["pre-sales"], 1).await;
    let mut desk = srv.agent_ws(&ann).await;
    let offered = desk
        .recv_until(|k| match k {
            Out::Event(e) if matches!(e.kind, Some(pb::conversation_event::Kind::Offered(_))) => {
                Some(e.conversation_id.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(offered, urgent);
    assert_ne!(offered, first);
    assert_ne!(offered, second);
    srv.shutdown().await;
}

#[tokio::test]
async fn unknown_plugins_and_bad_settings_stop_the_server_from_starting() {
    let registry = echo(Registry::empty(), "echo");
    let mut declared = std::collections::BTreeMap::new();
    declared.insert("ecco".to_string(), json!({}));
    let err = registry
        .build(&declared)
        .err()
        .expect("unknown name refused")
        .to_string();
    assert!(
        err.contains("plugins.ecco") && err.contains("known plugins: echo"),
        "{err}"
    );

    let mut declared = std::collections::BTreeMap::new();
    declared.insert("echo".to_string(), json!({"reply": "x", "replay": "typo"}));
    let err = format!(
        "{:#}",
        registry.build(&declared).err().expect("typo refused")
    );
    assert!(
        err.contains("plugins.echo") && err.contains("replay"),
        "{err}"
    );

    let mut declared = std::collections::BTreeMap::new();
    declared.insert(
        "echo".to_string(),
        json!({"reply": "x", "timeout_ms": "soon"}),
    );
    let err = format!(
        "{:#}",
        registry
            .build(&declared)
            .err()
            .expect("bad timeout refused")
    );
    assert!(err.contains("plugins.echo.timeout_ms"), "{err}");
}

/// The `[plugins]` tables of a TOML text, as the server reads them.
fn plugins_of(toml: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    use figment::providers::Format;
    let figment = figment::Figment::from(figment::providers::Toml::string(toml));
    figment
        .extract_inner("plugins")
        .expect("[plugins] tables parse")
}

#[test]
fn the_example_config_and_the_docs_declare_working_plugins() {
    let example = kefu_server::config::example_plugins();
    let built = Registry::builtin().build(&example).unwrap();
    let names: Vec<_> = built.iter().map(|d| d.plugin.name()).collect();
    assert_eq!(names, ["keyword_escalation", "faq"], "in priority order");

    // Every TOML block of docs/plugins.md that declares plugins builds as written.
    let docs = include_str!("../../docs/plugins.md");
    let mut checked = 0;
    for block in docs.split("```toml").skip(1) {
        let toml = block.split("```").next().unwrap();
        if toml.contains("[plugins.") && !toml.contains("[plugins.vip]") {
            let plugins = Registry::builtin().build(&plugins_of(toml)).unwrap();
            checked += plugins.len();
        }
    }
    assert_eq!(checked, 4, "the docs show all four built-ins");
}

#[tokio::test]
async fn a_plugin_routing_to_a_missing_group_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (mut settings, _database) = test_settings_and_database(dir.path());
    settings.plugins.insert(
        "keyword_escalation".into(),
        json!({"rules": [{"keywords": ["投诉"], "group": "aftersales"}]}),
    );
    let store = kefu_server::open_store(&settings).await.unwrap();
    kefu_server::seed::ensure_groups(store.as_ref())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = kefu_server::run(settings, store, listener, std::future::pending())
        .await
        .expect_err("a misspelt group is a configuration error");
    let err = format!("{err:#}");
    assert!(
        err.contains("plugins.keyword_escalation") && err.contains("`aftersales`"),
        "{err}"
    );
}
