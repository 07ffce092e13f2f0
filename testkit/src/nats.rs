//! [`NatsCluster`]: a NATS cluster of its own for a test, on free loopback ports, killed on
//! drop; and [`Relay`], a TCP relay a test can cut to take a node off NATS without touching
//! its clients.
//!
//! The binary is `NATS_SERVER_BIN`, or what `scripts/nats.sh` finds or installs (2.10 or
//! newer). The servers do not advertise each other to clients (`no_advertise`), so a kefu
//! node talks only to the URLs it was given: a relay in front of them stays in the path.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// One NATS server of a [`NatsCluster`].
struct Node {
    client_port: u16,
    conf: PathBuf,
    monitor_port: u16,
    child: Option<Child>,
}

/// `n` NATS servers clustered on 127.0.0.1.
pub struct NatsCluster {
    bin: PathBuf,
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn nats_server() -> PathBuf {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return bin.into();
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/nats.sh");
    let out = Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/nats.sh");
    assert!(out.status.success(), "scripts/nats.sh found no nats-server");
    String::from_utf8(out.stdout).expect("a path").trim().into()
}

impl NatsCluster {
    /// Starts `n` clustered servers and waits until each has routes to all the others.
    pub fn start(n: usize) -> Self {
        let bin = nats_server();
        let dir = tempfile::tempdir().expect("a scratch folder");
        let cluster_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let routes: Vec<String> = cluster_ports
            .iter()
            .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
            .collect();
        let mut nodes = Vec::new();
        for (i, cluster_port) in cluster_ports.iter().enumerate() {
            let (client_port, monitor_port) = (free_port(), free_port());
            let conf = dir.path().join(format!("n{i}.conf"));
            let text = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{monitor_port}\n\
                 cluster {{\n  name: kefu-test\n  listen: 127.0.0.1:{cluster_port}\n  \
                 no_advertise: true\n  routes: [{}]\n}}\n",
                routes.join(", ")
            );
            std::fs::write(&conf, text).expect("writing a NATS config");
            nodes.push(Node {
                client_port,
                conf,
                monitor_port,
                child: None,
            });
        }
        let mut cluster = Self {
            bin,
            nodes,
            _dir: dir,
        };
        for i in 0..n {
            cluster.start_node(i);
        }
        for i in 0..n {
            cluster.wait_routed(i);
        }
        cluster
    }

    fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&node.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server");
        node.child = Some(child);
    }

    /// Waits until server `i` has a route to every other live server.
    fn wait_routed(&self, i: usize) {
        let others = self.nodes.iter().filter(|n| n.child.is_some()).count() - 1;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let routes = http_get(self.nodes[i].monitor_port, "/routez")
                .and_then(|body| {
                    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                    v["num_routes"].as_u64()
                })
                .unwrap_or(0);
            // Route pooling may open several connections per peer: at least one each.
            if routes as usize >= others {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "NATS server {i} did not form its routes"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The client address of server `i`.
    pub fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.nodes[i].client_port))
    }

    /// Every server's client URL, comma-separated (`cluster.nats_url`).
    pub fn url(&self) -> String {
        (0..self.nodes.len())
            .map(|i| format!("nats://{}", self.addr(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills server `i` with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts server `i` again and waits until it rejoined the cluster.
    pub fn restart(&mut self, i: usize) {
        self.start_node(i);
        self.wait_routed(i);
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// A plain HTTP/1.0 GET on a loopback port: the body, or `None`.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// Relays TCP connections from a loopback port to `target` until [`Relay::cut`]; while
/// [`Relay::hold`] is on, bytes wait in the relay (a congested path, not a broken one).
pub struct Relay {
    pub addr: SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
    held: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    /// Listens on a free loopback port, relaying to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a relay");
        let addr = listener.local_addr().expect("relay address");
        let (cut, watch) = tokio::sync::watch::channel(false);
        let (held, hold) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let mut stop = watch.clone();
                let (inbound, _) = tokio::select! {
                    accepted = listener.accept() => match accepted { Ok(c) => c, Err(_) => return },
                    _ = stop.wait_for(|c| *c) => return,
                };
                let hold = hold.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    tokio::select! {
                        _ = pump(in_read, out_write, hold.clone()) => {}
                        _ = pump(out_read, in_write, hold) => {}
                        _ = stop.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Self { addr, cut, held }
    }

    /// Closes every relayed connection and refuses new ones.
    pub fn cut(&self) {
        let _ = self.cut.send(true);
    }

    /// Holds bytes back (`true`) or lets them, and those held, through again.
    pub fn hold(&self, on: bool) {
        let _ = self.held.send(on);
    }
}

/// Copies one direction of a relayed connection, waiting while it is held.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut hold: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if hold.wait_for(|held| !*held).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
