//! The real server on 127.0.0.1 with a temp database, bound exactly as `kefu` binds it, and
//! the `/metrics` scrapes the bench reads plugin call times from.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use kefu_server::{plugins::Registry, seed};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::{PLUGINS, WAIT};

/// The real server on 127.0.0.1 with a temp database.
pub struct Server {
    pub addr: SocketAddr,
    http: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(plugins: Option<Value>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // The tests' settings: one site, temp data, a rate limit above 20 messages a second.
        let mut s = kefu_testkit::test_settings(dir.path());
        if let Some(Value::Object(tables)) = plugins {
            s.plugins.extend(tables);
        }
        let store = kefu_server::open_store(&s).await.expect("store");
        seed::ensure_groups(store.as_ref()).await.expect("groups");
        // As `kefu` does (cli.rs).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(kefu_server::run_with(
            s,
            store,
            listener,
            async move {
                let _ = stopped.await;
            },
            Registry::builtin(),
        ));
        Self {
            addr,
            http: reqwest::Client::new(),
            stop,
            task,
            _dir: dir,
        }
    }

    pub async fn metrics(&self) -> Metrics {
        let text = self
            .http
            .get(format!("http://{}/metrics", self.addr))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        Metrics::parse(&text)
    }

    /// Waits until the bus has given every message to the first plugin and its counters
    /// stopped moving: plugins run after the Ack, possibly after the shoppers are done.
    pub async fn wait_for_bus(&self, before: &Metrics, messages: usize) {
        let deadline = Instant::now() + WAIT;
        let (mut last, mut steady) = (-1.0, 0);
        while Instant::now() < deadline && steady < 4 {
            let m = self.metrics().await.minus(before);
            let first = m.sum(
                "kefu_plugin_calls_total",
                &[("plugin", PLUGINS[0]), ("hook", "message")],
            );
            let calls = m.sum("kefu_plugin_calls_total", &[]);
            steady = if first >= messages as f64 && calls == last {
                steady + 1
            } else {
                0
            };
            last = calls;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("server task")
            .expect("server stopped cleanly");
    }
}

/// A `/metrics` scrape: each series (`name{labels}`) and its value.
#[derive(Default)]
pub struct Metrics(BTreeMap<String, f64>);

impl Metrics {
    fn parse(text: &str) -> Self {
        let series = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (key, value) = l.rsplit_once(' ')?;
                Some((key.to_string(), value.parse().ok()?))
            });
        Self(series.collect())
    }

    /// Each series' growth since `before` (counters and histograms only grow).
    pub fn minus(&self, before: &Metrics) -> Self {
        let delta = self
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0.0)));
        Self(delta.collect())
    }

    /// Series named `name` whose labels include `want`: (all labels, value).
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        want: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = (BTreeMap<String, String>, f64)> + 'a {
        self.0.iter().filter_map(move |(key, v)| {
            let (n, labels) = key.split_once('{').unwrap_or((key, "}"));
            if n != name {
                return None;
            }
            let labels: BTreeMap<String, String> = labels
                .trim_end_matches('}')
                .split("\",")
                .filter_map(|pair| {
                    let (k, v) = pair.split_once("=\"")?;
                    Some((k.to_string(), v.trim_end_matches('"').to_string()))
                })
                .collect();
            want.iter()
                .all(|(k, v)| labels.get(*k).is_some_and(|x| x == v))
                .then_some((labels, *v))
        })
    }

    pub fn sum(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.matching(name, want).map(|(_, v)| v).sum()
    }
}
