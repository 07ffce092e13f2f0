//! The dashboard (`ops/grafana/kefu.json`) and the alerts (`ops/prometheus/kefu.rules.yml`)
//! name only metrics a freshly started `kefu` exposes on `/metrics`: every `kefu_*` name
//! in those files is read at test time and looked up in a real scrape, so a renamed metric
//! or a typo in a panel fails here with the names that are missing.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;

/// The files whose metric names must exist, relative to the repository.
const OPS_FILES: &[&str] = &["ops/grafana/kefu.json", "ops/prometheus/kefu.rules.yml"];

/// Names that exist only in cluster mode (checked by the cluster test, on PostgreSQL).
const CLUSTER_ONLY: &[&str] = &["kefu_cluster_router"];

/// Every `kefu_…` metric name in the ops files, with the files naming it. Recording rules
/// (`kefu:…`) and alert names (`Kefu…`) are not metric names and do not match.
fn names_in_ops_files() -> BTreeMap<String, BTreeSet<&'static str>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut names: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for file in OPS_FILES {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("reading {file}: {e}"));
        for name in metric_names(&text) {
            names.entry(name).or_default().insert(file);
        }
    }
    names
}

/// The words `kefu_[a-z0-9_]+` of `text` (not preceded by a word character).
fn metric_names(text: &str) -> BTreeSet<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("kefu_") {
        if text[..at].chars().next_back().is_some_and(word) {
            continue;
        }
        let rest = &text[at..];
        let end = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        found.insert(rest[..end].trim_end_matches('_').to_string());
    }
    found
}

/// The metric names a Prometheus text exposition carries: every sample's name (a
/// histogram's `_bucket`, `_sum` and `_count`) and every `# TYPE` line's (its base name).
fn exposed(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(typed) = line.strip_prefix("# TYPE ") {
            if let Some(name) = typed.split_whitespace().next() {
                names.insert(name.to_string());
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    names
}

/// The names of `wanted` not in the scrape `text`, with the files naming them.
fn missing(
    wanted: &BTreeMap<String, BTreeSet<&'static str>>,
    text: &str,
    skip: &[&str],
) -> Vec<String> {
    let have = exposed(text);
    wanted
        .iter()
        .filter(|(name, _)| !have.contains(*name) && !skip.contains(&name.as_str()))
        .map(|(name, files)| {
            let files: Vec<_> = files.iter().copied().collect();
            format!("{name} (named in {})", files.join(", "))
        })
        .collect()
}

fn assert_none_missing(
    wanted: &BTreeMap<String, BTreeSet<&'static str>>,
    text: &str,
    skip: &[&str],
) {
    let missing = missing(wanted, text, skip);
    assert!(
        missing.is_empty(),
        "{} metric name(s) used by the dashboard or the alerts are not on /metrics after \
         start-up (register them in server/src/telemetry.rs, or fix the name):\n  {}\n\
         /metrics said:\n{text}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn the_name_scanner_finds_metric_names_and_suffixes() {
    let text = r#"expr: histogram_quantile(0.99, sum by (le) (rate(kefu_ack_latency_seconds_bucket[5m])))
      > 0.5 and kefu:ready, KefuDown, my_kefu_thing, "kefu_ready == 0", kefu_messages_total{direction="x"}"#;
    let names: Vec<_> = metric_names(text).into_iter().collect();
    assert_eq!(
        names,
        [
            "kefu_ack_latency_seconds_bucket",
            "kefu_messages_total",
            "kefu_ready"
        ]
    );
    let scrape = "# TYPE kefu_ack_latency_seconds histogram\n\
                  kefu_ack_latency_seconds_bucket{le=\"0.5\"} 0\nkefu_ready 1\n";
    let have = exposed(scrape);
    assert!(have.contains("kefu_ack_latency_seconds"));
    assert!(have.contains("kefu_ack_latency_seconds_bucket"));
    assert!(!have.contains("kefu_ack_latency_seconds_count"));
    let mut wanted = BTreeMap::new();
    wanted.insert(
        "kefu_nonexistent_total".to_string(),
        BTreeSet::from(["x.yml"]),
    );
    assert_eq!(
        missing(&wanted, scrape, &[]),
        ["kefu_nonexistent_total (named in x.yml)"]
    );
}

#[test]
fn the_ops_files_name_the_metrics_they_should() {
    let names = names_in_ops_files();
    for expected in [
        "kefu_ready",
        "kefu_connected_shoppers",
        "kefu_connected_agents",
        "kefu_conversations",
        "kefu_queue_length",
        "kefu_queue_wait_seconds_bucket",
        "kefu_ack_latency_seconds_bucket",
        "kefu_messages_total",
        "kefu_write_commit_seconds_sum",
        "kefu_source_errors_total",
        "kefu_plugin_calls_total",
        "kefu_webhook_deliveries_total",
    ] {
        assert!(
            names.contains_key(expected),
            "the dashboard or the alerts use {expected}; found {:?}",
            names.keys().collect::<Vec<_>>()
        );
    }
}

/// A bare `kefu` (no configuration: no back office, plugin or webhook) right after start.
#[tokio::test]
async fn a_fresh_kefu_exposes_every_metric_the_dashboard_and_alerts_name() {
    let wanted = names_in_ops_files();
    let kefu = KefuCommand::new().start().expect("kefu starts");
    let text = kefu.metrics().await;
    assert_none_missing(&wanted, &text, CLUSTER_ONLY);
    // Ready, and the scrape says so.
    assert!(
        text.lines().any(|l| l == "kefu_ready 1"),
        "kefu_ready is 1 on a ready kefu:\n{text}"
    );
}

/// A configured `kefu`: its back-office source, plugins and webhooks have their series
/// (at zero) from the start, by their configured names.
#[tokio::test]
async fn a_configured_kefu_exposes_its_sources_plugins_and_webhooks_at_zero() {
    let wanted = names_in_ops_files();
    let kefu = KefuCommand::new()
        .config(
            "[integrations.backoffice]\nname = \"erp\"\nbase_url = \"http://127.0.0.1:9\"\n\n\
             [plugins.faq]\n[[plugins.faq.entries]]\nquestions = [\"how much is shipping\"]\n\
             keywords = [\"shipping\"]\nanswer = \"Free.\"\n\n\
             [[webhooks]]\nname = \"crm\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"a-secret-of-enough-length\"\n",
        )
        .start()
        .expect("kefu starts");
    let text = kefu.metrics().await;
    assert_none_missing(&wanted, &text, CLUSTER_ONLY);
    for series in [
        "kefu_webhook_deliveries_total{webhook=\"crm\",outcome=\"dropped\"} 0",
        "kefu_source_errors_total{source=\"erp\",op=\"orders\",kind=\"timeout\"} 0",
        "kefu_source_request_seconds_count{source=\"erp\",op=\"customer\"} 0",
        "kefu_plugin_calls_total{plugin=\"faq\",hook=\"message\",outcome=\"error\"} 0",
        "kefu_messages_total{direction=\"from_shopper\"} 0",
        "kefu_conversations{state=\"queued\"} 0",
        "kefu_queue_length{group=\"pre-sales\"} 0",
        "kefu_events_dropped_total{subscriber=\"webhooks\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == series),
            "/metrics has `{series}` from the start:\n{text}"
        );
    }
    // Unconfigured features leave no label-less placeholder beside configured series.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("kefu_webhook_deliveries_total ")),
        "no label-less webhook series when webhooks are configured:\n{text}"
    );
}

/// A cluster node (PostgreSQL and a NATS server of the test's own) also has the cluster-only
/// names. Runs where `TEST_POSTGRES_URL` is set (scripts/test.sh's second pass).
#[tokio::test]
async fn a_cluster_node_exposes_every_metric_including_the_cluster_ones() {
    let Some(db) = kefu_testkit::TestDatabase::create() else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set (cluster mode needs PostgreSQL)");
        return;
    };
    let wanted = names_in_ops_files();
    let nats = kefu_testkit::NatsCluster::start(1);
    let kefu = KefuCommand::new()
        .database(db)
        .config(format!(
            "[cluster]\nnats_url = \"{}\"\nnode = \"ops\"\n",
            nats.url()
        ))
        .start()
        .expect("a kefu node starts");
    let text = kefu.metrics().await;
    assert_none_missing(&wanted, &text, &[]);
}
