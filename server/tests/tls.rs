//! Built-in TLS (`[server.tls]`), with self-signed certificates made at test time: HTTPS and
//! WSS answer, plain HTTP on the TLS port is told to use https without hurting the server,
//! a client that never finishes its handshake is closed after the header timeout, SIGHUP
//! swaps the certificate for new connections (and keeps the old one when the new files do
//! not load), and a bad certificate or key stops start-up with the key and file named.

mod common;

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use common::*;
use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::config::TlsSettings;
use nix::{sys::signal, unistd::Pid};
use prost::Message as _;
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, net::TcpStream};
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::{
        ClientConfig, RootCertStore,
        crypto::aws_lc_rs,
        pki_types::{CertificateDer, ServerName},
    },
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

/// A self-signed certificate for 127.0.0.1 and its key.
struct Pair {
    cert_pem: String,
    key_pem: String,
    /// The certificate as a client receives it.
    der: Vec<u8>,
}

fn self_signed() -> Pair {
    let c =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    Pair {
        cert_pem: c.cert.pem(),
        key_pem: c.signing_key.serialize_pem(),
        der: c.cert.der().to_vec(),
    }
}

/// Writes `pair` as `cert.pem` and `key.pem` in `dir`, replacing what was there.
fn install(dir: &Path, pair: &Pair) -> TlsSettings {
    let settings = TlsSettings {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&settings.cert, &pair.cert_pem).unwrap();
    std::fs::write(&settings.key, &pair.key_pem).unwrap();
    settings
}

/// A client trusting exactly `roots`, offering HTTP/1.1 as browsers do.
fn client_config(roots: &[&Pair]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(CertificateDer::from(r.der.clone())).unwrap();
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS connection to kefu, verified against `roots`.
async fn tls_connect(addr: SocketAddr, roots: &[&Pair]) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(addr.ip().to_string()).unwrap();
    tokio::time::timeout(
        WAIT,
        TlsConnector::from(client_config(roots)).connect(name, tcp),
    )
    .await
    .expect("the handshake finishes in time")
    .expect("the handshake succeeds with the server's certificate trusted")
}

/// The certificate a new connection is served.
async fn served_cert(addr: SocketAddr, roots: &[&Pair]) -> Vec<u8> {
    let tls = tls_connect(addr, roots).await;
    let (_, conn) = tls.get_ref();
    assert_eq!(
        conn.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "the server agrees on HTTP/1.1"
    );
    conn.peer_certificates()
        .expect("a certificate was presented")[0]
        .to_vec()
}

/// An HTTPS client trusting only `roots`, reporting the peer certificate of each response.
/// A new connection per request: the server closes idle ones after the header timeout, and
/// a request racing that close would fail for reasons this file does not test.
fn https_client(roots: &[&Pair]) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .tls_certs_only(
            roots
                .iter()
                .map(|r| reqwest::Certificate::from_pem(r.cert_pem.as_bytes()).unwrap()),
        )
        .tls_info(true)
        .timeout(WAIT)
        .build()
        .unwrap()
}

fn https(addr: SocketAddr, path: &str) -> String {
    format!("https://{addr}{path}")
}

/// A protobuf WebSocket over TLS (the kit's `Ws` speaks plain `ws://`).
struct Wss {
    ws: WebSocketStream<TlsStream<TcpStream>>,
}

impl Wss {
    /// Opens `wss://addr/ws/{kind}` and waits for `Hello`.
    async fn connect(
        addr: SocketAddr,
        roots: &[&Pair],
        kind: &str,
        token: &str,
        origin: Option<&str>,
    ) -> Self {
        let tls = tls_connect(addr, roots).await;
        let mut req = format!("wss://{addr}/ws/{kind}?token={token}")
            .into_client_request()
            .unwrap();
        if let Some(o) = origin {
            req.headers_mut()
                .insert("origin", HeaderValue::from_str(o).unwrap());
        }
        let (ws, _) = tokio_tungstenite::client_async(req, tls)
            .await
            .unwrap_or_else(|e| panic!("the {kind} socket upgrades over TLS: {e}"));
        let mut me = Self { ws };
        me.recv_until(|k| matches!(k, Out::Hello(_)).then_some(()))
            .await;
        me
    }

    async fn send(&mut self, kind: In) {
        let frame = pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec();
        self.ws.send(Message::Binary(frame.into())).await.unwrap();
    }

    async fn recv_until<T>(&mut self, mut f: impl FnMut(&Out) -> Option<T>) -> T {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait time")
                .expect("the socket is open")
                .expect("frames read");
            if let Message::Binary(b) = frame {
                let kind = pb::ServerEnvelope::decode(b).unwrap().kind.unwrap();
                if let Some(t) = f(&kind) {
                    return t;
                }
            }
        }
    }

    /// Sends a text and waits for its ack; returns the conversation.
    async fn say(&mut self, conv: &str, id: &str, text: &str) -> String {
        self.send(text_msg(conv, id, text)).await;
        self.recv_until(|k| match k {
            Out::Ack(a) if a.client_msg_id == id => Some(a.conversation_id.clone()),
            Out::Error(e) if e.client_msg_id == id => panic!("send {id} failed: {e:?}"),
            _ => None,
        })
        .await
    }
}

/// A visitor session over HTTPS; returns its token.
async fn visitor(http: &reqwest::Client, addr: SocketAddr) -> String {
    let res = http
        .post(https(addr, "/api/v1/visitor/session"))
        .json(&json!({"site_id": SITE}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a visitor session starts over HTTPS");
    let v: Value = res.json().await.unwrap();
    v["visitor_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn https_and_wss_are_served_and_plain_http_is_told_to_use_https() {
    let dir = tempfile::tempdir().unwrap();
    let pair = self_signed();
    let tls = install(dir.path(), &pair);
    let srv = TestServer::start_with(|s| s.server.tls = tls).await;
    let http = https_client(&[&pair]);

    let res = http.get(https(srv.addr, "/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "/healthz answers over HTTPS");
    let info = res.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    assert_eq!(
        info.peer_certificate(),
        Some(&pair.der[..]),
        "the configured certificate is the one served"
    );

    // A plain HTTP request on the TLS port gets a readable answer, then the port goes on.
    let mut plain = TcpStream::connect(srv.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: kefu\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_until_closed(&mut plain).await).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("use https://"),
        "plain HTTP is told to use https: {answer:?}"
    );

    // An agent and a shopper over WSS: the shopper's message is acked and offered.
    srv.store
        .create_agent(&kefu_server::store::NewAgent {
            username: "ann".into(),
            display_name: "Ann".into(),
            password_hash: kefu_server::auth::password::hash(PASSWORD.into())
                .await
                .unwrap(),
            role: kefu_server::store::Role::Agent,
            capacity: 5,
            groups: vec!["pre-sales".into()],
        })
        .await
        .unwrap();
    let res = http
        .post(https(srv.addr, "/api/v1/auth/login"))
        .json(&json!({"username": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "an agent signs in over HTTPS");
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ann = Wss::connect(srv.addr, &[&pair], "agent", &token, None).await;
    let visitor = visitor(&http, srv.addr).await;
    let mut shopper = Wss::connect(srv.addr, &[&pair], "shopper", &visitor, Some(ORIGIN)).await;
    let conv = shopper.say("", "m1", "hello over wss").await;
    let offered = ann
        .recv_until(|k| match k {
            Out::Event(e) if matches!(e.kind, Some(pb::conversation_event::Kind::Offered(_))) => {
                Some(e.conversation_id.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(offered, conv, "the agent's WSS socket is offered the chat");

    let res = http.get(https(srv.addr, "/readyz")).send().await.unwrap();
    assert_eq!(
        res.status(),
        200,
        "still serving after the plain HTTP request"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_handshakes_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pair = self_signed();
    let tls = install(dir.path(), &pair);
    let timeout = Duration::from_secs(2);
    let srv = TestServer::start_with(|s| {
        s.server.tls = tls;
        s.limits.http.header_read_timeout_secs = timeout.as_secs();
    })
    .await;
    let opened = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..10 {
        // TCP open, not a byte sent.
        stalled.push(TcpStream::connect(srv.addr).await.unwrap());
    }
    for _ in 0..10 {
        // The start of a ClientHello record, then nothing.
        let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
        tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .await
            .unwrap();
        stalled.push(tcp);
    }

    // The handshakes wait in their own tasks: a real client is served meanwhile, well
    // before the stalled ones time out.
    let http = https_client(&[&pair]);
    let res = http.get(https(srv.addr, "/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "a normal client is served");
    assert!(
        opened.elapsed() < timeout,
        "served in {:?}, before the stalled handshakes timed out: the accept loop did not wait",
        opened.elapsed()
    );

    let closed = futures_util::future::join_all(stalled.iter_mut().map(|tcp| async move {
        let got = read_until_closed(tcp).await;
        (got, opened.elapsed())
    }))
    .await;
    for (got, after) in closed {
        assert!(
            after >= timeout - Duration::from_millis(100),
            "closed after {after:?}: by the header timeout, not at once"
        );
        assert!(
            got.is_empty() || got[0] == 0x15,
            "nothing but a TLS alert is sent to a stalled client: {got:?}"
        );
    }
    let res = http.get(https(srv.addr, "/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "still serving afterwards");
    srv.shutdown().await;
}

/// The built binary with TLS configured, its stderr in a file; killed on drop.
struct Kefu {
    child: Child,
    addr: SocketAddr,
    stderr: PathBuf,
    /// The start-up line, `kefu listening on …`.
    listening: String,
    _database: Option<kefu_testkit::TestDatabase>,
}

/// `kefu` on `dir` (data, config and log), with the test site and these TLS files.
fn kefu_command(dir: &Path, tls: &TlsSettings) -> (Command, Option<kefu_testkit::TestDatabase>) {
    let bin = std::env::var("KEFU_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_kefu").into());
    let config = dir.join("kefu.toml");
    std::fs::write(
        &config,
        format!(
            "[[sites]]\nid = \"{SITE}\"\nname = \"Test shop\"\nallowed_origins = [\"{ORIGIN}\"]\n\
             identity_secret = \"{SECRET}\"\ndefault_group = \"pre-sales\"\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEFU_SERVER__LISTEN", "127.0.0.1:0")
        .env("KEFU_SERVER__DATA_DIR", dir.join("data"))
        .env("KEFU_SERVER__SHUTDOWN_GRACE_SECS", "1")
        .env("KEFU_SERVER__TLS__CERT", &tls.cert)
        .env("KEFU_SERVER__TLS__KEY", &tls.key)
        .env("RUST_LOG", "warn")
        .arg(format!("-config={}", config.display()));
    let database = kefu_testkit::TestDatabase::create();
    if let Some(db) = &database {
        cmd.env("KEFU_STORE__URL", &db.url);
    }
    (cmd, database)
}

impl Kefu {
    /// Starts kefu and waits until `/readyz` answers over HTTPS.
    async fn start(dir: &Path, tls: &TlsSettings, roots: &[&Pair]) -> Self {
        let (mut cmd, database) = kefu_command(dir, tls);
        let stderr = dir.join("kefu.log");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let listening = lines
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "kefu printed where it listens: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            })
            .unwrap();
        let addr = listening
            .rsplit_once("://")
            .unwrap_or_else(|| panic!("unexpected: {listening}"))
            .1
            .parse()
            .unwrap();
        // Keep reading stdout so kefu never blocks writing to it.
        std::thread::spawn(move || lines.for_each(drop));
        let me = Self {
            child,
            addr,
            stderr,
            listening,
            _database: database,
        };
        let http = https_client(roots);
        eventually("kefu answers /readyz over HTTPS", || async {
            let res = http.get(https(me.addr, "/readyz")).send().await.ok()?;
            (res.status() == 200).then_some(())
        })
        .await;
        me
    }

    fn hangup(&self) {
        signal::kill(
            Pid::from_raw(self.child.id() as i32),
            signal::Signal::SIGHUP,
        )
        .unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `kefu_tls_reloads_total{outcome}` as `/metrics` shows it.
    async fn reloads(&self, http: &reqwest::Client, outcome: &str) -> u64 {
        let text = http
            .get(https(self.addr, "/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let prefix = format!("kefu_tls_reloads_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(0, |n| n.trim().parse().unwrap())
    }
}

impl Drop for Kefu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_start_up_line_says_https() {
    let dir = tempfile::tempdir().unwrap();
    let pair = self_signed();
    let tls = install(dir.path(), &pair);
    let kefu = Kefu::start(dir.path(), &tls, &[&pair]).await;
    assert_eq!(
        kefu.listening,
        format!("kefu listening on https://{}", kefu.addr),
        "the address printed is one a browser can open"
    );
}

#[tokio::test]
async fn sighup_swaps_the_certificate_for_new_connections_and_a_bad_one_is_not_taken() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (self_signed(), self_signed());
    let both = [&first, &second];
    let tls = install(dir.path(), &first);
    let kefu = Kefu::start(dir.path(), &tls, &both).await;
    let http = https_client(&both);
    assert_eq!(
        served_cert(kefu.addr, &both).await,
        first.der,
        "the certificate of the files at start"
    );
    // A shopper connected before the reload.
    let token = visitor(&http, kefu.addr).await;
    let mut before = Wss::connect(kefu.addr, &both, "shopper", &token, Some(ORIGIN)).await;
    let conv = before.say("", "b1", "before the reload").await;

    install(dir.path(), &second);
    kefu.hangup();
    eventually("new connections get the new certificate", || async {
        (served_cert(kefu.addr, &both).await == second.der).then_some(())
    })
    .await;
    assert_eq!(kefu.reloads(&http, "ok").await, 1, "one reload, counted");
    before.say(&conv, "b2", "after the reload").await;
    let (_, conn) = before.ws.get_ref().get_ref();
    assert_eq!(
        conn.peer_certificates().unwrap()[0].as_ref(),
        &first.der[..],
        "a connection opened before the reload keeps its certificate and goes on"
    );

    // A broken certificate file: the reload fails, the second certificate stays.
    std::fs::write(&tls.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    kefu.hangup();
    eventually("the failed reload is counted", || async {
        (kefu.reloads(&http, "failed").await == 1).then_some(())
    })
    .await;
    // A certificate whose key is still the old one (a half-finished renewal): refused too.
    std::fs::write(&tls.cert, &first.cert_pem).unwrap();
    kefu.hangup();
    eventually("the second failed reload is counted", || async {
        (kefu.reloads(&http, "failed").await == 2).then_some(())
    })
    .await;
    assert_eq!(
        served_cert(kefu.addr, &both).await,
        second.der,
        "after failed reloads new connections still get the last good certificate"
    );
    let res = http.get(https(kefu.addr, "/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200, "kefu keeps serving");
    before.say(&conv, "b3", "after the failed reloads").await;
    let log = kefu.log();
    assert!(
        log.contains("TLS reload failed")
            && log.contains("config key `server.tls.cert`")
            && log.contains("config key `server.tls.key`")
            && log.contains("is not the private key of the certificate"),
        "each failed reload is logged with the key and the reason: {log}"
    );
}

/// Runs kefu expecting it to refuse to start; returns its stderr.
fn refused_start(dir: &Path, tls: &TlsSettings) -> String {
    let (mut cmd, _db) = kefu_command(dir, tls);
    let out = cmd.stdin(Stdio::null()).output().expect("kefu runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "kefu must not start: {}\n{stderr}",
        out.status
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing is served: no listening line"
    );
    stderr
}

#[test]
fn a_bad_certificate_or_key_stops_start_up_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pair = self_signed();
    let mut tls = install(dir.path(), &pair);

    tls.key = dir.path().join("no-such-key.pem");
    let err = refused_start(dir.path(), &tls);
    assert!(
        err.contains(
            "config key `server.tls.key` (from environment variable KEFU_SERVER__TLS__KEY): \
             cannot read "
        ) && err.contains("no-such-key.pem"),
        "a missing key names the key, where it was set and the file: {err}"
    );

    std::fs::write(dir.path().join("other-key.pem"), self_signed().key_pem).unwrap();
    tls.key = dir.path().join("other-key.pem");
    let err = refused_start(dir.path(), &tls);
    assert!(
        err.contains("config key `server.tls.key`")
            && err.contains("is not the private key of the certificate in"),
        "a key of another certificate is refused: {err}"
    );

    tls.key = dir.path().join("key.pem");
    tls.cert = dir.path().join("key.pem");
    let err = refused_start(dir.path(), &tls);
    assert!(
        err.contains("config key `server.tls.cert`") && err.contains("holds no certificate"),
        "a key where the certificate should be: {err}"
    );

    tls.cert = PathBuf::new();
    let err = refused_start(dir.path(), &tls);
    assert!(
        err.contains("config key `server.tls.cert`") && err.contains("set both"),
        "a key without a certificate: {err}"
    );
}
