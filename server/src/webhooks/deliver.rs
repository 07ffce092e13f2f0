//! Delivering one event to one receiver: signed attempts, retries with exponential backoff,
//! a row in the delivery log per attempt, and a metric per outcome.
//!
//! A slow or dead receiver hurts only itself: each webhook has its own pool of request
//! slots ([`IN_FLIGHT`]), a delivery holds a slot only while its request is on the wire (not
//! while it waits to retry), and each webhook may have at most [`MAX_PENDING`] deliveries
//! unfinished; past that, new events for it are dropped and counted
//! (`kefu_webhook_deliveries_total{outcome="dropped"}`) instead of piling up in memory.

use std::{
    error::Error as _,
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use futures_util::future::join_all;
use reqwest::{StatusCode, header::CONTENT_TYPE};
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::{WebhookSettings, payload::Payload, sign::sign};
use crate::{
    events::Event,
    store::{Conversation, Store, WebhookDelivery, now_ms},
};

/// Requests in flight to one receiver at once.
pub const IN_FLIGHT: usize = 32;
/// Deliveries one webhook may have unfinished (waiting for a slot, on the wire, or waiting
/// to retry) before new events for it are dropped.
pub const MAX_PENDING: usize = 4096;
/// Delivery log rows kept (all webhooks together); older ones are deleted.
pub const KEEP: i64 = 1000;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Delivers events to every configured webhook.
pub(super) struct Sender {
    hooks: Vec<Arc<Hook>>,
    store: Arc<dyn Store>,
    http: reqwest::Client,
}

struct Hook {
    settings: WebhookSettings,
    /// Request slots; a slow receiver uses up only its own.
    slots: Semaphore,
    /// Deliveries started and not finished.
    pending: AtomicUsize,
}

/// One of a webhook's [`MAX_PENDING`] places, given back when the delivery ends (however it
/// ends: a `Drop` guard, so a panicking task cannot leak it).
struct Claim(Arc<Hook>);

impl Claim {
    fn new(hook: &Arc<Hook>) -> Option<Self> {
        let taken = hook
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_PENDING).then_some(n + 1)
            });
        taken.is_ok().then(|| Self(hook.clone()))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One event on its way to one receiver; the body is the same on every attempt.
struct Delivery {
    id: Uuid,
    event: &'static str,
    body: Bytes,
}

/// Why an attempt failed, and whether trying again may help.
#[derive(Debug, PartialEq)]
struct Failure {
    error: String,
    retry: bool,
}

impl Sender {
    pub(super) fn new(hooks: Vec<WebhookSettings>, store: Arc<dyn Store>) -> Self {
        let hooks = hooks
            .into_iter()
            .map(|settings| {
                Arc::new(Hook {
                    settings,
                    slots: Semaphore::new(IN_FLIGHT),
                    pending: AtomicUsize::new(0),
                })
            })
            .collect();
        // No redirects: a signed event goes where it was configured to go, or nowhere.
        // Each request carries its webhook's own time box; the client's are a backstop.
        let http = crate::integrations::rest::client_with_redirects(
            Duration::from_secs(60),
            reqwest::redirect::Policy::none(),
        );
        Self { hooks, store, http }
    }

    /// Hands `event` to a delivery task for each webhook that wants it. Never waits.
    pub(super) fn dispatch(self: &Arc<Self>, event: Event) {
        if let Event::Message(m) = &event
            && m.body.is_private()
        {
            return; // agents' notes to each other stay inside Kefu
        }
        let name = event.name();
        let claims: Vec<Claim> = self
            .hooks
            .iter()
            .filter(|h| h.settings.wants(name))
            .filter_map(|h| {
                let claim = Claim::new(h);
                if claim.is_none() {
                    tracing::warn!(webhook = %h.settings.name, event = name, "too many webhook deliveries unfinished; event dropped");
                    count(&h.settings.name, "dropped");
                }
                claim
            })
            .collect();
        if claims.is_empty() {
            return;
        }
        let heard_at = now_ms();
        let sender = self.clone();
        tokio::spawn(async move {
            let conv_id = event.conversation_id();
            let conversation = match sender.store.conversation(conv_id).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(conv = %conv_id, event = name, error = %e, "webhook event for a conversation that cannot be read; dropped");
                    return;
                }
            };
            let deliveries = claims
                .iter()
                .map(|c| sender.deliver(&c.0, &event, &conversation, heard_at));
            join_all(deliveries).await;
        });
    }

    /// Tries until the receiver takes the event, refuses it for good, or attempts run out.
    async fn deliver(
        &self,
        hook: &Hook,
        event: &Event,
        conversation: &Conversation,
        heard_at: i64,
    ) {
        let s = &hook.settings;
        let id = Uuid::now_v7();
        let payload = Payload::new(id, event, conversation, heard_at);
        let body = serde_json::to_vec(&payload).expect("payloads serialise to JSON");
        let delivery = Delivery {
            id,
            event: event.name(),
            body: body.into(),
        };
        let backoff = ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(s.retry_initial_ms))
            .with_factor(2.0)
            .with_max_delay(MAX_BACKOFF)
            .with_jitter()
            .with_max_times(s.max_attempts.saturating_sub(1) as usize);
        let attempts = AtomicU32::new(0);
        let result = (|| {
            self.attempt(
                hook,
                &delivery,
                attempts.fetch_add(1, Ordering::Relaxed) + 1,
            )
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|f: &Failure| f.retry)
        .await;
        let attempts = attempts.into_inner();
        let outcome = match &result {
            Ok(()) => "delivered",
            Err(f) => {
                let gave_up = if f.retry { "failed" } else { "rejected" };
                tracing::warn!(webhook = %s.name, delivery = %id, event = delivery.event, attempts, error = %f.error, outcome = gave_up, "webhook not delivered");
                gave_up
            }
        };
        count(&s.name, outcome);
    }

    /// One signed POST, logged in the delivery log whatever happens.
    async fn attempt(&self, hook: &Hook, d: &Delivery, attempt: u32) -> Result<(), Failure> {
        let s = &hook.settings;
        let slot = hook
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let at = now_ms();
        let timestamp = (at / 1000).to_string();
        let started = Instant::now();
        let sent = self
            .http
            .post(&s.url)
            .timeout(Duration::from_millis(s.timeout_ms))
            .header(CONTENT_TYPE, "application/json")
            .header("X-Kefu-Event", d.event)
            .header("X-Kefu-Delivery", d.id.to_string())
            .header("X-Kefu-Timestamp", &timestamp)
            .header("X-Kefu-Signature", sign(&s.secret, &timestamp, &d.body))
            .body(d.body.clone())
            .send()
            .await;
        let duration_ms = started.elapsed().as_millis() as i64;
        drop(slot);
        let (status, result) = match sent {
            Ok(response) => (Some(response.status()), judge(response.status())),
            Err(e) => (None, Err(transport_failure(&e, s.timeout_ms))),
        };
        if let Err(f) = &result {
            tracing::debug!(webhook = %s.name, delivery = %d.id, attempt, error = %f.error, "webhook attempt failed");
        }
        let row = WebhookDelivery {
            id: Uuid::now_v7(),
            webhook: s.name.clone(),
            delivery_id: d.id,
            event: d.event.to_string(),
            attempt: attempt.into(),
            at,
            status: status.map(|c| i64::from(c.as_u16())),
            error: result.as_ref().err().map(|f| f.error.clone()),
            duration_ms,
            delivered: result.is_ok(),
        };
        if let Err(e) = self.store.insert_delivery(&row, KEEP).await {
            tracing::warn!(webhook = %s.name, delivery = %d.id, error = %e, "recording a webhook attempt failed");
        }
        result
    }
}

fn count(webhook: &str, outcome: &'static str) {
    metrics::counter!("kefu_webhook_deliveries_total", "webhook" => webhook.to_string(), "outcome" => outcome)
        .increment(1);
}

/// What a receiver's answer means: 2xx taken; 408, 429 and 5xx worth retrying; anything
/// else (other 4xx, and 3xx since redirects are not followed) refused for good.
fn judge(status: StatusCode) -> Result<(), Failure> {
    if status.is_success() {
        return Ok(());
    }
    let retry = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    Err(Failure {
        error: format!("HTTP {status}"),
        retry,
    })
}

/// No answer at all (refused, reset, DNS, TLS, timeout): always worth retrying. The URL is
/// left out of the text, as it may carry a token.
fn transport_failure(e: &reqwest::Error, timeout_ms: u64) -> Failure {
    let error = if e.is_timeout() {
        format!("no answer within {timeout_ms} ms")
    } else {
        let mut text = String::from(if e.is_connect() {
            "connecting failed"
        } else {
            "request failed"
        });
        let mut source = e.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    };
    Failure { error, retry: true }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retried(code: u16) -> Option<bool> {
        judge(StatusCode::from_u16(code).unwrap())
            .err()
            .map(|f| f.retry)
    }

    #[test]
    fn answers_are_judged_as_documented() {
        for ok in [200, 201, 202, 204] {
            assert_eq!(retried(ok), None, "{ok} means delivered");
        }
        for again in [408, 429, 500, 502, 503, 504] {
            assert_eq!(retried(again), Some(true), "{again} is worth another try");
        }
        for never in [301, 302, 400, 401, 403, 404, 410, 422] {
            assert_eq!(
                retried(never),
                Some(false),
                "{never} will not change by retrying"
            );
        }
        assert_eq!(
            judge(StatusCode::SERVICE_UNAVAILABLE).unwrap_err().error,
            "HTTP 503 Service Unavailable",
            "the log says what the receiver answered"
        );
    }
}
