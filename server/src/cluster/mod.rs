//! Cluster mode: several `kefu` nodes on one PostgreSQL, joined by NATS (`[cluster]`).
//!
//! PostgreSQL stays the only source of truth; NATS carries what is live. See
//! `docs/CLUSTER.md` for topology and failure behaviour.
//!
//! - `fanout`: the hub's frames to and from the other nodes, on subjects per shopper, per
//!   agent and for supervisors; a node subscribes only for the sockets it holds.
//! - `link`: routing commands from every node to the one router, over NATS request/reply,
//!   and this node's agent presence, reported every second.
//! - `lease`: which node runs the router: the holder of a PostgreSQL advisory lock.
//!
//! Two NATS connections: one for fan-out with `no_echo` (a node never hears its own frames;
//! it delivered them itself), one for routing, where the router's node does talk to itself.

mod fanout;
mod lease;
mod link;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use async_nats::{ConnectOptions, ServerAddr, connection::State};

use crate::config::{ClusterSettings, Settings};
pub use lease::RouterDeps;

/// How long a node may be cut off from NATS before it gives its sockets up (a NATS node
/// dying costs a reconnect to another one, well inside this).
const CUT_OFF_AFTER: Duration = Duration::from_secs(2);

/// This node's place in the cluster.
pub struct Cluster {
    pub node: String,
    fanout: async_nats::Client,
    control: async_nats::Client,
    /// Cut off from NATS for longer than [`CUT_OFF_AFTER`]: not ready, acks nothing.
    cut_off: AtomicBool,
    /// This node runs the router now.
    leading: AtomicBool,
    db_url: String,
}

impl Cluster {
    /// Connects to NATS (waiting for it if it is not up yet).
    pub async fn connect(settings: &Settings) -> anyhow::Result<Arc<Self>> {
        let c = settings
            .cluster
            .as_ref()
            .context("cluster mode without [cluster]")?;
        let node = if c.node.is_empty() {
            default_node_name(&settings.server.listen)
        } else {
            c.node.clone()
        };
        let fanout = connect(c, &format!("kefu {node} fan-out"), true).await?;
        let control = connect(c, &format!("kefu {node} routing"), false).await?;
        tracing::info!(%node, nats = %c.nats_url, "joined the cluster");
        Ok(Arc::new(Self {
            node,
            fanout,
            control,
            cut_off: AtomicBool::new(false),
            leading: AtomicBool::new(false),
            db_url: settings.store_url(),
        }))
    }

    /// Both NATS connections are up.
    fn connected(&self) -> bool {
        self.fanout.connection_state() == State::Connected
            && self.control.connection_state() == State::Connected
    }

    /// Whether this node may take and ack work: not cut off from NATS.
    pub fn is_ready(&self) -> bool {
        !self.cut_off.load(Ordering::Relaxed)
    }

    /// Whether this node runs the router (and the idle sweeper) now.
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    /// The hub's link to the other nodes; starts the tasks that deliver their frames here.
    pub fn fanout(self: &Arc<Self>, hub: &Arc<crate::sessions::hub::Hub>) {
        hub.set_remote(fanout::Fanout::start(self.fanout.clone(), hub));
    }

    /// Watches the NATS connections: cut off for longer than [`CUT_OFF_AFTER`], the node
    /// turns not-ready and closes its sockets so their clients reconnect to other nodes;
    /// once back, it is ready again.
    pub fn watch(self: &Arc<Self>, hub: std::sync::Weak<crate::sessions::hub::Hub>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut down_since: Option<tokio::time::Instant> = None;
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let Some(hub) = hub.upgrade() else { return };
                if me.connected() {
                    down_since = None;
                    if me.cut_off.swap(false, Ordering::Relaxed) {
                        tracing::info!("NATS is back: ready again");
                    }
                    continue;
                }
                let since = *down_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= CUT_OFF_AFTER && !me.cut_off.swap(true, Ordering::Relaxed) {
                    let closed = hub.disconnect_all(kefu_proto::v1::GoAwayCode::ShuttingDown);
                    tracing::error!(
                        closed,
                        "cut off from NATS: not ready; sockets closed so their clients move to other nodes"
                    );
                }
            }
        });
    }
}

/// One connection to the NATS cluster, reconnecting quickly to whichever server answers.
async fn connect(
    c: &ClusterSettings,
    name: &str,
    no_echo: bool,
) -> anyhow::Result<async_nats::Client> {
    let addrs = c
        .nats_url
        .split(',')
        .map(|u| u.trim().parse::<ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .context("config key `cluster.nats_url`")?;
    let mut opts = ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .ping_interval(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(5)))
        .reconnect_delay_callback(|attempt| {
            Duration::from_millis((50u64 << attempt.min(5)).min(1000))
        })
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("NATS connected"),
                async_nats::Event::Disconnected => {
                    tracing::warn!("NATS disconnected; reconnecting")
                }
                other => tracing::warn!(event = %other, "NATS"),
            }
        })
        .require_tls(c.tls_required);
    if no_echo {
        opts = opts.no_echo();
    }
    if !c.credentials.is_empty() {
        opts = opts
            .credentials_file(&c.credentials)
            .await
            .with_context(|| {
                format!(
                    "config key `cluster.credentials`: reading {}",
                    c.credentials
                )
            })?;
    }
    if !c.tls_ca.is_empty() {
        opts = opts.add_root_certificates(c.tls_ca.clone().into());
    }
    let client = opts.connect(addrs).await.context("connecting to NATS")?;
    // `retry_on_initial_connect` returns before the first connection: wait for it, so a
    // node starts serving only once it is part of the cluster.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client.connection_state() != State::Connected {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no NATS server at `{}` answered within 30 s (config key `cluster.nats_url`)",
            c.nats_url
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(client)
}

/// `host-port` of this machine and listening port.
fn default_node_name(listen: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "kefu".into());
    let port = listen.rsplit(':').next().unwrap_or("0");
    format!("{host}-{port}")
}
