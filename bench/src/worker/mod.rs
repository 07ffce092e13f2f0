//! One load-generating process. It owns a share of the shoppers and agents (one task per
//! socket, see `conn`), paces their traffic open-loop (`pace`) and answers the coordinator's
//! commands, one JSON line each way.

mod conn;
mod pace;

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, OnceLock, atomic::AtomicU32},
    time::Duration,
};

use anyhow::Context as _;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    sync::{Semaphore, mpsc},
};

use crate::{
    plan::{AgentLogin, Cmd, Heard, Reply, Report, Status},
    track::{self, Hist, Inbox, Outbox, Tally},
};
pub use conn::Order;
pub use pace::paced;

/// Sockets of one worker that may be mid-handshake at once: more overflows the server's
/// accept backlog and turns into SYN retransmits (seconds) instead of load.
const CONNECTING_AT_ONCE: usize = 64;
/// The origin the bench site allows (shoppers' browsers always send one).
pub const ORIGIN: &str = "http://bench.test";

/// What every socket task of this worker shares.
pub struct Shared {
    /// The kefu nodes: socket i connects to node i mod n first and moves to the next one
    /// whenever its node fails (what a load balancer would do).
    pub servers: Vec<SocketAddr>,
    pub sources: Vec<Ipv4Addr>,
    pub connecting: Semaphore,
    pub reply_every: AtomicU32,
    pub state: Mutex<State>,
}

#[derive(Default)]
pub struct State {
    pub outboxes: HashMap<String, Outbox>,
    pub inboxes: HashMap<String, Inbox>,
    pub hists: HashMap<&'static str, Hist>,
    pub opened: HashMap<String, u64>,
    pub queued_heard: HashMap<String, Heard>,
    pub status: Status,
    pub error_samples: Vec<String>,
}

impl State {
    pub fn record(&mut self, hist: &'static str, from_ns: u64, to_ns: u64) {
        track::record(
            self.hists.entry(hist).or_insert_with(track::hist),
            from_ns,
            to_ns,
        );
    }

    pub fn error(&mut self, what: String) {
        self.status.errors += 1;
        self.sample(what);
    }

    /// Keeps the first few noteworthy events for the log.
    pub fn sample(&mut self, what: String) {
        if self.error_samples.len() < 10 {
            self.error_samples.push(what);
        }
    }
}

/// A socket task's handle.
pub struct Peer {
    pub orders: mpsc::UnboundedSender<Order>,
    /// A shopper's conversation, once its opening message is acked.
    pub conversation: Arc<OnceLock<String>>,
}

struct Worker {
    shared: Option<Arc<Shared>>,
    /// Visitor tokens not connected yet.
    tokens: Vec<String>,
    shoppers: Vec<Peer>,
    agents: Vec<Peer>,
}

pub async fn main() -> anyhow::Result<()> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    let mut w = Worker {
        shared: None,
        tokens: vec![],
        shoppers: vec![],
        agents: vec![],
    };
    while let Some(line) = lines.next_line().await? {
        let cmd: Cmd = serde_json::from_str(&line).context("a command from the coordinator")?;
        if matches!(cmd, Cmd::Quit) {
            break;
        }
        let reply = w.handle(cmd).await.unwrap_or_else(|e| Reply::Failed {
            error: format!("{e:#}"),
        });
        let mut text = serde_json::to_string(&reply)?;
        text.push('\n');
        out.write_all(text.as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}

impl Worker {
    fn shared(&self) -> anyhow::Result<&Arc<Shared>> {
        self.shared.as_ref().context("Connect comes first")
    }

    async fn handle(&mut self, cmd: Cmd) -> anyhow::Result<Reply> {
        match cmd {
            Cmd::Setup {
                server,
                site,
                sources,
                visitors,
            } => {
                let servers = server
                    .split(',')
                    .map(|s| s.parse().context("server address"))
                    .collect::<anyhow::Result<Vec<SocketAddr>>>()?;
                self.tokens = visitor_tokens(servers[0], sources[0], &site, visitors).await?;
                self.shared = Some(Arc::new(Shared {
                    servers,
                    sources,
                    connecting: Semaphore::new(CONNECTING_AT_ONCE),
                    reply_every: AtomicU32::new(0),
                    state: Mutex::default(),
                }));
                Ok(Reply::Done)
            }
            Cmd::Connect { shoppers, agents } => {
                self.connect(shoppers, agents).await?;
                Ok(Reply::Done)
            }
            Cmd::Open { shoppers, rate } => {
                let idle: Vec<_> = self
                    .shoppers
                    .iter()
                    .filter(|p| p.conversation.get().is_none())
                    .take(shoppers)
                    .map(|p| &p.orders)
                    .collect();
                anyhow::ensure!(
                    idle.len() == shoppers,
                    "only {} shoppers left without a conversation",
                    idle.len()
                );
                pace::paced(&idle, rate, shoppers, |intended| Order::Open { intended }).await;
                Ok(Reply::Done)
            }
            Cmd::Load {
                rate,
                secs,
                reply_every,
            } => {
                self.shared()?
                    .reply_every
                    .store(reply_every, std::sync::atomic::Ordering::Relaxed);
                let chatting: Vec<_> = self
                    .shoppers
                    .iter()
                    .filter(|p| p.conversation.get().is_some())
                    .map(|p| &p.orders)
                    .collect();
                let n = (rate * secs).round() as usize;
                pace::paced(&chatting, rate, n, |intended| Order::Send { intended }).await;
                Ok(Reply::Done)
            }
            Cmd::Storm { fraction, secs } => {
                let all: Vec<_> = self.shoppers.iter().map(|p| &p.orders).collect();
                let rate = fraction * all.len() as f64;
                let n = (rate * secs).round() as usize;
                pace::paced(&all, rate, n, |_| Order::Reconnect).await;
                Ok(Reply::Done)
            }
            Cmd::Stall { agent, stalled } => {
                let peer = self.agents.get(agent).context("no such agent")?;
                let _ = peer.orders.send(Order::Stall(stalled));
                Ok(Reply::Done)
            }
            Cmd::Echo {
                addr,
                connections,
                rate,
                secs,
            } => {
                let source = self.shared()?.sources[0];
                let h = crate::echo::load(addr.parse()?, source, connections, rate, secs).await?;
                let mut st = self.shared()?.state.lock().expect("state lock");
                st.hists.insert("echo", h);
                Ok(Reply::Done)
            }
            Cmd::Status => Ok(Reply::Status(
                self.shared()?
                    .state
                    .lock()
                    .expect("state lock")
                    .status
                    .clone(),
            )),
            Cmd::Report { reset } => Ok(Reply::Report(Box::new(self.report(reset)?))),
            Cmd::Quit => Ok(Reply::Done),
        }
    }

    async fn connect(&mut self, shoppers: usize, agents: Vec<AgentLogin>) -> anyhow::Result<()> {
        let shared = self.shared()?.clone();
        anyhow::ensure!(
            shoppers <= self.tokens.len(),
            "only {} visitors left",
            self.tokens.len()
        );
        let mut index = self.agents.len() + self.shoppers.len();
        let mut spawn = |who: conn::Who| {
            let (orders, rx) = mpsc::unbounded_channel();
            let conversation = Arc::new(OnceLock::new());
            tokio::spawn(conn::run(
                index,
                who,
                shared.clone(),
                rx,
                conversation.clone(),
            ));
            index += 1;
            Peer {
                orders,
                conversation,
            }
        };
        let agents: Vec<_> = agents
            .into_iter()
            .map(|a| spawn(conn::Who::Agent(a)))
            .collect();
        let shoppers: Vec<_> = self
            .tokens
            .drain(..shoppers)
            .map(|token| spawn(conn::Who::Shopper { token }))
            .collect();
        self.agents.extend(agents);
        self.shoppers.extend(shoppers);
        let want = self.agents.len() + self.shoppers.len();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            let connected = shared.state.lock().expect("state lock").status.connected;
            if connected == want {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "only {connected} of {want} sockets connected"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn report(&self, reset: bool) -> anyhow::Result<Report> {
        let mut st = self.shared()?.state.lock().expect("state lock");
        let mut tallies: HashMap<String, Tally> = HashMap::new();
        for (k, o) in &st.outboxes {
            tallies.entry(k.clone()).or_default().merge(Tally::from(o));
        }
        for (k, i) in &st.inboxes {
            tallies.entry(k.clone()).or_default().merge(Tally::from(i));
        }
        let hists = st
            .hists
            .iter()
            .map(|(k, h)| (k.to_string(), track::encode(h)))
            .collect();
        let report = Report {
            status: st.status.clone(),
            hists,
            tallies,
            opened: st.opened.clone(),
            queued_heard: st.queued_heard.clone(),
            error_samples: st.error_samples.clone(),
        };
        if reset {
            st.hists.clear();
            st.opened.clear();
            st.queued_heard.clear();
        }
        Ok(report)
    }
}

/// Starts `n` anonymous visitor sessions on `site`.
async fn visitor_tokens(
    server: SocketAddr,
    source: Ipv4Addr,
    site: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    // No idle pooled connections afterwards: every server file descriptor counts.
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::V4(source))
        .pool_max_idle_per_host(0)
        .build()?;
    let url = format!("http://{server}/api/v1/visitor/session");
    // A few requests at a time: each is a SQLite commit on the server.
    stream::iter(0..n)
        .map(|_| async {
            let res = http
                .post(&url)
                .header("origin", ORIGIN)
                .json(&json!({ "site_id": site }))
                .send()
                .await?
                .error_for_status()?;
            let v: serde_json::Value = res.json().await?;
            v["visitor_token"]
                .as_str()
                .map(str::to_string)
                .context("visitor_token in the answer")
        })
        .buffer_unordered(16)
        .try_collect()
        .await
}
