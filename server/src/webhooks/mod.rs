//! Outgoing webhooks: conversation and message events as signed JSON POSTs to the retailer's
//! systems (bots, CRMs, data warehouses), retried with backoff, every attempt logged.
//!
//! - `payload`: the JSON body, a public contract (`docs/plugins.md`).
//! - `sign`: `X-Kefu-Signature`, and the `verify` a receiver (or a test) uses.
//! - `deliver`: one event to one receiver: attempts, retries, the delivery log, metrics.
//!
//! What is sent: `message.created` for every stored message a shopper may see (shoppers',
//! agents', bots' and system messages) — agents' private notes stay internal and are never
//! sent — and `conversation.opened|assigned|transferred|closed|sla_breached`. Each webhook
//! picks the events it wants.
//!
//! What is promised: at least once while the server runs (deduplicate on `X-Kefu-Delivery`),
//! not in order (deliveries run concurrently and retries overtake; order by the message's
//! `seq` or `created_at`). Events waiting for delivery live in memory only: a restart drops
//! them. The chat never waits for a receiver: events arrive after the message was stored and
//! acknowledged, and the event loop only hands them to delivery tasks.

mod deliver;
mod log;
pub mod payload;
pub mod sign;

use std::{collections::HashMap, sync::Arc};

use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use deliver::KEEP;
pub use sign::{sign, verify};

pub use log::DeliveryLog;

use crate::{events::Event, store::Store};

/// Every event a webhook may ask for, as named in `events` and `X-Kefu-Event`.
pub const EVENTS: [&str; 6] = [
    "message.created",
    "conversation.opened",
    "conversation.assigned",
    "conversation.transferred",
    "conversation.closed",
    "conversation.sla_breached",
];

/// Events waiting for the webhook sender before new ones are dropped (and counted).
pub const QUEUE_DEPTH: usize = 16_384;

/// One `[[webhooks]]` entry.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Shown in the delivery log and the metrics; unique.
    pub name: String,
    /// Where events are POSTed: `http://` or `https://`. Redirects are not followed.
    pub url: String,
    /// Key of the HMAC-SHA256 signature; at least 16 characters.
    pub secret: String,
    /// Event names to send (`message.created`, `conversation.opened`…); empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// Tries per event, the first included (1 to 20).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Time box of one request, connecting included (1 to 60,000 ms).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Wait before the first retry (1 to 60,000 ms). It doubles on each retry, plus up to as
    /// much again at random so receivers coming back are not hit by every sender at once,
    /// and stops growing at a minute.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
}

fn default_max_attempts() -> u32 {
    6
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_retry_initial_ms() -> u64 {
    500
}

impl WebhookSettings {
    /// A webhook sending every event, with the default attempts, time box and backoff.
    pub fn new(name: impl Into<String>, url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            secret: secret.into(),
            events: Vec::new(),
            max_attempts: default_max_attempts(),
            timeout_ms: default_timeout_ms(),
            retry_initial_ms: default_retry_initial_ms(),
        }
    }

    /// Whether this webhook sends events named `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

/// The secret stays out of logs.
impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("events", &self.events)
            .field("max_attempts", &self.max_attempts)
            .field("timeout_ms", &self.timeout_ms)
            .field("retry_initial_ms", &self.retry_initial_ms)
            .finish()
    }
}

/// Checks `[[webhooks]]`; on a mistake, returns the key at fault (`webhooks[1].url`) and
/// what it expects.
pub fn validate(hooks: &[WebhookSettings]) -> Result<(), (String, String)> {
    let mut names = HashMap::new();
    for (i, h) in hooks.iter().enumerate() {
        let bad = |field: &str, expected: String| Err((format!("webhooks[{i}].{field}"), expected));
        let name = h.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return bad("name", "expected 1 to 64 characters".into());
        }
        if let Some(first) = names.insert(name, i) {
            return bad(
                "name",
                format!("`{name}` is already the name of webhooks[{first}]; names must be unique"),
            );
        }
        let scheme = reqwest::Url::parse(&h.url)
            .ok()
            .filter(|u| u.host_str().is_some_and(|host| !host.is_empty()))
            .map(|u| u.scheme().to_string());
        if !matches!(scheme.as_deref(), Some("http" | "https")) {
            return bad(
                "url",
                format!(
                    "expected an http:// or https:// URL with a host, got `{}`",
                    h.url
                ),
            );
        }
        if h.secret.chars().count() < 16 {
            return bad(
                "secret",
                "expected at least 16 characters; use a long random string and give it to the \
                 receiver to verify X-Kefu-Signature"
                    .into(),
            );
        }
        if let Some(unknown) = h.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return bad(
                "events",
                format!(
                    "unknown event `{unknown}`; known events: {}",
                    EVENTS.join(", ")
                ),
            );
        }
        if !(1..=20).contains(&h.max_attempts) {
            return bad("max_attempts", "expected 1 to 20".into());
        }
        if !(1..=60_000).contains(&h.timeout_ms) {
            return bad("timeout_ms", "expected 1 to 60000".into());
        }
        if !(1..=60_000).contains(&h.retry_initial_ms) {
            return bad("retry_initial_ms", "expected 1 to 60000".into());
        }
    }
    Ok(())
}

/// Checks `hooks` and starts the sender: one loop per receiver that hands each event to
/// delivery tasks and never waits on a webhook receiver. Nothing runs when no webhook is
/// configured.
pub fn spawn(
    hooks: Vec<WebhookSettings>,
    receivers: Vec<mpsc::Receiver<Event>>,
    store: Arc<dyn Store>,
) -> anyhow::Result<()> {
    validate(&hooks).map_err(|(key, expected)| anyhow!("config key `{key}`: {expected}"))?;
    if hooks.is_empty() {
        return Ok(());
    }
    let sender = Arc::new(deliver::Sender::new(hooks, store));
    for mut rx in receivers {
        let sender = sender.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                sender.dispatch(event);
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::events::Lifecycle;

    fn ok() -> WebhookSettings {
        WebhookSettings::new("crm", "https://crm.example/kefu", "0123456789abcdef")
    }

    fn ok_named(name: &str) -> WebhookSettings {
        let mut h = ok();
        h.name = name.into();
        h
    }

    fn key_of(hooks: &[WebhookSettings]) -> String {
        validate(hooks).expect_err("should be refused").0
    }

    #[test]
    fn good_settings_pass() {
        let mut other = ok();
        other.name = "bot".into();
        other.url = "http://127.0.0.1:9000/".into();
        other.events = vec!["message.created".into(), "conversation.closed".into()];
        assert_eq!(validate(&[ok(), other]), Ok(()));
    }

    #[test]
    fn each_mistake_names_its_key() {
        let with = |f: fn(&mut WebhookSettings)| {
            let mut h = ok();
            f(&mut h);
            vec![ok_named("first"), h]
        };
        assert_eq!(
            key_of(&with(|h| h.url = "ftp://x/".into())),
            "webhooks[1].url"
        );
        assert_eq!(
            key_of(&with(|h| h.url = "crm.example".into())),
            "webhooks[1].url"
        );
        assert_eq!(
            key_of(&with(|h| h.url = "http://".into())),
            "webhooks[1].url"
        );
        assert_eq!(
            key_of(&with(|h| h.secret = String::new())),
            "webhooks[1].secret"
        );
        assert_eq!(
            key_of(&with(|h| h.secret = "too-short".into())),
            "webhooks[1].secret"
        );
        assert_eq!(
            key_of(&with(|h| h.events = vec!["message.sent".into()])),
            "webhooks[1].events"
        );
        assert_eq!(key_of(&with(|h| h.name = " ".into())), "webhooks[1].name");
        assert_eq!(
            key_of(&with(|h| h.name = "first".into())),
            "webhooks[1].name"
        );
        assert_eq!(
            key_of(&with(|h| h.max_attempts = 0)),
            "webhooks[1].max_attempts"
        );
        assert_eq!(
            key_of(&with(|h| h.timeout_ms = 0)),
            "webhooks[1].timeout_ms"
        );
        assert_eq!(
            key_of(&with(|h| h.retry_initial_ms = 0)),
            "webhooks[1].retry_initial_ms"
        );
    }

    #[test]
    fn every_event_the_server_emits_can_be_asked_for() {
        let id = Uuid::nil();
        let changes = [
            Lifecycle::Opened { reopened: false },
            Lifecycle::Assigned {
                agent_id: id,
                agent_name: String::new(),
            },
            Lifecycle::Transferred {
                from_agent_id: id,
                to_agent_id: None,
                to_group: None,
            },
            Lifecycle::Closed {
                reason: String::new(),
            },
            Lifecycle::ServiceLevelBreached {
                target: "first_response".into(),
                due_at: 0,
            },
        ];
        for change in changes {
            assert!(
                EVENTS.contains(&change.name()),
                "{} is known",
                change.name()
            );
        }
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let shown = format!("{:?}", ok());
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }

    #[test]
    fn settings_left_out_take_the_defaults() {
        let h: WebhookSettings = serde_json::from_value(serde_json::json!({
            "name": "crm", "url": "https://crm.example/", "secret": "0123456789abcdef"
        }))
        .unwrap();
        assert_eq!(
            (h.max_attempts, h.timeout_ms, h.retry_initial_ms),
            (6, 5000, 500)
        );
        assert!(
            h.wants("conversation.closed"),
            "no events listed: all of them"
        );
    }
}
