//! The `kefu` processes under test: a bench config on a temp SQLite database (or a fresh
//! PostgreSQL one with `--store`; with `--nodes N`, N cluster nodes on it joined by a NATS
//! cluster of three servers), an admin made with `kefu agent add`, agents made over the
//! admin REST API (the starting and the accounts are the workspace test kit's), and /proc
//! sampling summed over the nodes.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use anyhow::Context as _;
use futures_util::{StreamExt, TryStreamExt, stream};
use kefu_testkit::{AgentSpec, Endpoint, KefuCommand, KefuProcess, NatsCluster, TestDatabase};

use crate::plan::AgentLogin;

pub const SITE: &str = "bench";
const ADMIN: &str = "bench-admin";
const PASSWORD: &str = "bench-password-0123";

/// kefu under test, started through the workspace's test kit: one process, or the nodes
/// of a cluster.
pub struct Kefu {
    /// `None` for a node being restarted.
    nodes: Mutex<Vec<Option<KefuProcess>>>,
    /// Every node's address, comma-separated (what the workers are told).
    pub addr: String,
    pub proc: Procs,
    data_dir: PathBuf,
    /// Node 0 as a client sees it: where the admin and the agents are made.
    first: Endpoint,
    _nats: Option<NatsCluster>,
}

/// The bench site, no plugins, and limits that let one socket send as fast as the run asks
/// (the kit writes the `[server]` table: listen on 127.0.0.1:0, data in a temp folder).
fn config(capacity: usize) -> String {
    format!(
        r#"[log]
level = "warn"

[routing]
default_capacity = {capacity}
idle_close_secs = 0
agent_grace_secs = 600

[limits]
messages_per_second = 5000
messages_burst = 5000

# Every simulated shopper comes from 127.0.0.1: the per-address and per-shopper abuse
# limits would measure themselves, not the message path.
[limits.ip]
sessions = {{ per_period = 1000000, burst = 1000000, period = "second" }}
conversations = {{ per_period = 1000000, burst = 1000000, period = "second" }}
logins = {{ per_period = 1000000, burst = 1000000, period = "second" }}

[limits.visitor]
frames = {{ per_period = 1000000, burst = 1000000, period = "second" }}
conversations = {{ per_period = 1000000, burst = 1000000, period = "second" }}

[[sites]]
id = "{SITE}"
name = "Bench shop"
allowed_origins = ["{origin}"]
identity_secret = "bench-identity-secret-0123456789abcdef"
default_group = "pre-sales"
"#,
        origin = crate::worker::ORIGIN,
    )
}

impl Kefu {
    /// Starts kefu on a temp SQLite database, or on a fresh database on the PostgreSQL
    /// server `postgres` names; with `nodes` > 1, that many cluster nodes on it.
    pub fn start(
        bin: &Path,
        capacity: usize,
        postgres: Option<&str>,
        nodes: usize,
    ) -> anyhow::Result<Self> {
        let mut base = KefuCommand::new()
            .bin(bin)
            .shutdown_grace_secs(2)
            .config(config(capacity))
            .log_to_file();
        if let Some(server) = postgres {
            base = base.database(TestDatabase::create_on(server));
        }
        let nats = (nodes > 1).then(|| NatsCluster::start(3));
        let mut processes = Vec::new();
        for i in 0..nodes {
            let mut command = base.clone();
            if let Some(nats) = &nats {
                command = command.config(format!(
                    "[cluster]\nnats_url = \"{}\"\nnode = \"k{i}\"\n",
                    nats.url()
                ));
            }
            if i == 0 {
                command = command.admin(ADMIN, PASSWORD);
            }
            processes.push(command.start()?);
        }
        let addrs: Vec<String> = processes.iter().map(|p| p.addr.to_string()).collect();
        Ok(Self {
            addr: addrs.join(","),
            proc: Procs(processes.iter().map(|p| Proc(p.pid())).collect()),
            data_dir: processes[0].data_dir().to_path_buf(),
            first: Endpoint::new(processes[0].addr, reqwest::Client::new()),
            nodes: Mutex::new(processes.into_iter().map(Some).collect()),
            _nats: nats,
        })
    }

    pub fn nodes(&self) -> usize {
        self.nodes.lock().unwrap().len()
    }

    /// Kills node `i` with SIGKILL and starts it again on the same address (a crash and a
    /// service manager restarting it); returns once it is ready.
    pub async fn crash_and_restart(&self, i: usize) -> anyhow::Result<()> {
        let node = self.nodes.lock().unwrap()[i].take();
        let command = node.context("node running")?.kill();
        let again = tokio::task::spawn_blocking(move || command.start()).await??;
        self.nodes.lock().unwrap()[i] = Some(again);
        Ok(())
    }

    /// Creates `n` agents in the pre-sales group and signs each in.
    pub async fn agents(&self, n: usize) -> anyhow::Result<Vec<AgentLogin>> {
        let admin = self.first.try_login(ADMIN, PASSWORD).await?;
        // Password hashing is the slow part: a few at a time keeps both cores busy.
        stream::iter(0..n)
            .map(|i| {
                let admin = &admin;
                async move {
                    let spec = AgentSpec {
                        password: PASSWORD.into(),
                        ..AgentSpec::agent(&format!("agent-{i:04}"), &["pre-sales"])
                    };
                    let agent = self.first.try_add_agent(admin, &spec).await?;
                    anyhow::Ok(AgentLogin {
                        id: agent.id,
                        token: agent.token,
                    })
                }
            })
            .buffer_unordered(4)
            .try_collect()
            .await
    }

    /// The last lines each node logged, for an error report.
    pub fn log_tail(&self) -> String {
        let nodes = self.nodes.lock().unwrap();
        let tails = nodes.iter().enumerate().filter_map(|(i, n)| {
            n.as_ref()
                .map(|n| format!("--- node {i}\n{}", n.log_tail(20)))
        });
        tails.collect::<Vec<_>>().join("\n")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }
}

/// The resource use of every node, summed.
#[derive(Clone)]
pub struct Procs(Vec<Proc>);

impl Procs {
    pub fn rss_kib(&self) -> u64 {
        self.0.iter().map(Proc::rss_kib).sum()
    }

    pub fn cpu_us(&self) -> u64 {
        self.0.iter().map(Proc::cpu_us).sum()
    }

    pub fn fds(&self) -> usize {
        self.0.iter().map(Proc::fds).sum()
    }
}

/// A process's resource use, read from /proc.
#[derive(Clone, Copy)]
pub struct Proc(pub u32);

impl Proc {
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.0)).unwrap_or_default()
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        self.read("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// User + system CPU time so far, microseconds.
    pub fn cpu_us(&self) -> u64 {
        let stat = self.read("stat");
        // Fields after the parenthesised command name; utime and stime are 14th and 15th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        ticks * 1_000_000 / clock_ticks()
    }

    /// Open file descriptors.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.0)).map_or(0, |d| d.count())
    }
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |t| t as u64)
}

/// Waits for memory to settle (allocator returning pages, timers firing).
pub async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
