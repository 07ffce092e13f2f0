//! Logging (tracing: human or JSON) and metrics (a process-wide Prometheus recorder).
//!
//! [`register`] describes every metric at start-up and creates the series the dashboard and
//! the alerts in `ops/` read (`server/tests/ops_metrics.rs` checks each name they use is on
//! `/metrics` straight after start). The exporter renders a metric only once it has a
//! handle: a description alone prints nothing, while a registered counter or gauge prints
//! `0` and a registered histogram prints its buckets, `_sum` and `_count` at 0. A series
//! present from the start also lets `rate()` count its first increment.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::{
    config::{LogSettings, Settings},
    integrations::view::Views,
    plugins::registry::Declared,
    store::Group,
};

/// Installs the tracing subscriber. `RUST_LOG` overrides `log.level`.
pub fn init_logging(log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let registry = tracing_subscriber::registry().with(filter);
    if log.format == "json" {
        registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .init();
    } else {
        registry
            // No colour codes when stderr is the journal or a file, not a terminal.
            .with(
                fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .init();
    }
}

/// The process-wide Prometheus recorder, installed on first use. Several servers in one
/// process (tests) share it.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0, 300.0,
            ];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("kefu_write_batch_size".into()),
                        &[
                            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                            2048.0,
                        ],
                    )
                })
                .expect("valid buckets")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// Whether this process is ready (the answer `/readyz` gives), as a gauge Prometheus can
/// alert on; set on each `/readyz` and each scrape of `/metrics`.
pub const READY: &str = "kefu_ready";

/// Every metric Kefu records: name, kind and help text.
#[rustfmt::skip]
const METRICS: &[(&str, Kind, &str)] = {
    use Kind::*;
    &[
        (READY, Gauge, "1 while this process is ready (as /readyz answers 200), else 0"),
        ("kefu_connected_shoppers", Gauge, "Open shopper sockets"),
        ("kefu_connected_agents", Gauge, "Open agent sockets"),
        ("kefu_conversations", Gauge, "Open conversations by routing state (queued, offered, assigned); in a cluster, the router node's count"),
        ("kefu_queue_length", Gauge, "Conversations waiting in each group's queue"),
        ("kefu_queue_wait_seconds", Histogram, "Time a conversation waited in the queue before an agent took it"),
        ("kefu_ack_latency_seconds", Histogram, "From a message reaching the writer to its ack (after the commit)"),
        ("kefu_messages_total", Counter, "Messages stored, by direction (from_shopper, to_shopper, note, system)"),
        ("kefu_write_commit_seconds", Histogram, "Time the writer spent committing one batch; rate(_sum) is the share of time the writer is busy"),
        ("kefu_write_batch_size", Histogram, "Messages committed in one transaction"),
        ("kefu_slow_connections_dropped_total", Counter, "Connections dropped because their outbound queue was full"),
        ("kefu_ws_gap_messages_total", Counter, "Messages a socket sent from the database to fill a gap in what it had delivered"),
        ("kefu_events_dropped_total", Counter, "Domain events a subscriber (plugins, webhooks, prefetch) lost because it fell behind"),
        ("kefu_conversations_closed_total", Counter, "Conversations closed, by reason"),
        ("kefu_ratings_total", Counter, "Shopper satisfaction ratings, by score"),
        ("kefu_sla_breaches_total", Counter, "Service-level targets missed, by target (first_response, resolution); counted once per conversation and target, by the node that recorded it"),
        ("kefu_rate_limited_total", Counter, "Requests and frames refused by a rate limit, by kind"),
        ("kefu_rate_limiter_keys", Gauge, "Keys the rate limiters currently track"),
        ("kefu_source_request_seconds", Histogram, "Back-office lookups (with retries), by source and operation"),
        ("kefu_source_errors_total", Counter, "Back-office lookups that failed, by source, operation and kind"),
        ("kefu_source_warnings_total", Counter, "Parts of back-office answers left out as unreadable (a wrong-typed field, a record without an id), by source and operation"),
        ("kefu_source_cache_total", Counter, "Customer-view cache lookups, by source, operation and result (hit, stale, miss)"),
        ("kefu_actions_total", Counter, "Back-office actions taken by agents, by action and result"),
        ("kefu_desk_update_checks_total", Counter, "Desk update checks answered, by result (none, offered)"),
        ("kefu_plugin_calls_total", Counter, "Plugin calls, by plugin, hook and outcome (ok, error, panic, timeout)"),
        ("kefu_plugin_seconds", Histogram, "Time one plugin call took"),
        ("kefu_webhook_deliveries_total", Counter, "Webhook deliveries, by webhook and outcome (delivered, failed, rejected, dropped)"),
        ("kefu_cluster_router", Gauge, "Cluster mode: 1 on the node running the router"),
        ("kefu_cluster_frames_dropped_total", Counter, "Cluster mode: frames the NATS publisher had no room for"),
        ("kefu_cluster_routing_dropped_total", Counter, "Cluster mode: routing commands that found no router in time"),
    ]
};

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Describes every metric and creates, at zero, the series known at start: fixed label
/// values in full (messages by direction, conversations by state) and configured ones
/// (groups, the back-office source, plugins, webhooks). A labelled
/// metric whose label values all come from configuration that is absent (no webhook, say)
/// gets one series without labels, so its name still exists and a panel shows 0 rather
/// than "no data".
/// `kefu_cluster_router` exists only in cluster mode (0 until the node takes the router),
/// so queries can tell nodes apart with `unless on (instance) (kefu_cluster_router == 0)`.
///
/// Registering never changes a value: servers sharing the process (tests) keep theirs.
pub fn register(settings: &Settings, groups: &[Group], views: &Views, plugins: &[Declared]) {
    prometheus();
    for &(name, kind, help) in METRICS {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
    for name in [
        READY,
        "kefu_connected_shoppers",
        "kefu_connected_agents",
        "kefu_rate_limiter_keys",
    ] {
        let _ = metrics::gauge!(name);
    }
    for name in [
        "kefu_queue_wait_seconds",
        "kefu_ack_latency_seconds",
        "kefu_write_commit_seconds",
        "kefu_write_batch_size",
    ] {
        let _ = metrics::histogram!(name);
    }
    for name in [
        "kefu_slow_connections_dropped_total",
        "kefu_ws_gap_messages_total",
        "kefu_cluster_frames_dropped_total",
        "kefu_cluster_routing_dropped_total",
    ] {
        let _ = metrics::counter!(name);
    }
    for state in ["queued", "offered", "assigned"] {
        let _ = metrics::gauge!("kefu_conversations", "state" => state);
    }
    for direction in ["from_shopper", "to_shopper", "note", "system"] {
        let _ = metrics::counter!("kefu_messages_total", "direction" => direction);
    }
    if settings.cluster.is_some() {
        let _ = metrics::gauge!("kefu_cluster_router");
    }
    // Groups made later appear once a conversation queues there.
    match groups {
        [] => {
            let _ = metrics::gauge!("kefu_queue_length");
        }
        _ => {
            for g in groups {
                let _ = metrics::gauge!("kefu_queue_length", "group" => g.name.clone());
            }
        }
    }
    match views.connector() {
        None => {
            let _ = metrics::histogram!("kefu_source_request_seconds");
            let _ = metrics::counter!("kefu_source_errors_total");
            let _ = metrics::counter!("kefu_source_warnings_total");
            let _ = metrics::counter!("kefu_source_cache_total");
        }
        Some(c) => {
            let source = c.name().to_string();
            for op in ["customer", "orders", "returns"] {
                let _ = metrics::histogram!("kefu_source_request_seconds", "source" => source.clone(), "op" => op);
                for kind in [
                    "timeout",
                    "status",
                    "malformed",
                    "too_large",
                    "transport",
                    "mapping",
                    "filter_timeout",
                ] {
                    let _ = metrics::counter!("kefu_source_errors_total", "source" => source.clone(), "op" => op, "kind" => kind);
                }
                let _ = metrics::counter!("kefu_source_warnings_total", "source" => source.clone(), "op" => op);
                for result in ["hit", "stale", "miss"] {
                    let _ = metrics::counter!("kefu_source_cache_total", "source" => source.clone(), "op" => op, "result" => result);
                }
            }
        }
    }
    if plugins.is_empty() {
        let _ = metrics::histogram!("kefu_plugin_seconds");
        let _ = metrics::counter!("kefu_plugin_calls_total");
    }
    for d in plugins {
        let plugin = d.plugin.name().to_string();
        let _ = metrics::histogram!("kefu_plugin_seconds", "plugin" => plugin.clone());
        // Every plugin hears messages; lifecycle hooks get their series when first called.
        for outcome in ["ok", "error", "panic", "timeout"] {
            let _ = metrics::counter!("kefu_plugin_calls_total", "plugin" => plugin.clone(), "hook" => "message", "outcome" => outcome);
        }
    }
    if settings.webhooks.is_empty() {
        let _ = metrics::counter!("kefu_webhook_deliveries_total");
    }
    match settings.service_levels.enabled() {
        true => {
            for target in ["first_response", "resolution"] {
                let _ = metrics::counter!("kefu_sla_breaches_total", "target" => target);
            }
        }
        false => {
            let _ = metrics::counter!("kefu_sla_breaches_total");
        }
    }
    for w in &settings.webhooks {
        for outcome in ["delivered", "failed", "rejected", "dropped"] {
            let _ = metrics::counter!("kefu_webhook_deliveries_total", "webhook" => w.name.clone(), "outcome" => outcome);
        }
    }
    // The subscribers `run_with` makes.
    let _ = metrics::counter!("kefu_events_dropped_total", "subscriber" => "prefetch");
    if !plugins.is_empty() {
        let _ = metrics::counter!("kefu_events_dropped_total", "subscriber" => "plugins");
    }
    if !settings.webhooks.is_empty() {
        let _ = metrics::counter!("kefu_events_dropped_total", "subscriber" => "webhooks");
    }
}

/// Records whether this process is ready ([`READY`]).
pub fn set_ready(ready: bool) {
    metrics::gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}
