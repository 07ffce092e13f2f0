//! Test harness for the desktop core: a real `kefu` server process (built from this
//! workspace) on 127.0.0.1 with its own SQLite, scripted shoppers, and polling helpers.
#![allow(dead_code)] // each test binary uses a different part

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use prost::Message as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message as WsMessage, client::IntoClientRequest};

pub const WAIT: Duration = Duration::from_secs(20);

/// The workspace's build output folder (`target/debug`), found from this test binary.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// A workspace binary, built first if `cargo test` was run for this package alone.
pub fn workspace_bin(package: &str, bin: &str) -> PathBuf {
    let path = target_dir().join(bin);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", package, "--bin", bin])
            .status()
            .unwrap();
        assert!(status.success(), "building {bin}");
    }
    path
}

/// A running `kefu --demo` process: demo admin `demo` / `kefu-demo`, site `demo`.
pub struct Kefu {
    child: Child,
    pub addr: String,
    dir: PathBuf,
}

impl Kefu {
    /// Starts kefu on `dir` listening on `listen` (`127.0.0.1:0` for any free port).
    pub fn start(dir: &Path, listen: &str) -> Self {
        Self::start_with(dir, listen, &[])
    }

    /// Same, with extra environment (config overrides such as `KEFU_ROUTING__AUTO_ACCEPT`).
    pub fn start_with(dir: &Path, listen: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(workspace_bin("kefu-server", "kefu"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KEFU_SERVER__LISTEN", listen)
            .env("KEFU_SERVER__DATA_DIR", dir)
            .env("KEFU_SERVER__SHUTDOWN_GRACE_SECS", "1")
            .env("KEFU_LIMITS__MESSAGES_PER_SECOND", "1000")
            .env("KEFU_LIMITS__MESSAGES_BURST", "1000")
            .env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .arg("--demo")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("kefu prints where it listens").unwrap();
        let addr = first
            .strip_prefix("kefu listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server hard (as a crash or a pulled cable would).
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.addr.clone()
    }

    /// Starts it again on the same address and data.
    pub fn restart(self) -> Self {
        let dir = self.dir.clone();
        let addr = self.kill();
        Self::start(&dir, &addr)
    }

    /// Signs in as the demo admin; returns the token.
    pub async fn admin_token(&self) -> String {
        let res: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.url()))
            .json(&json!({"username": "demo", "password": "kefu-demo"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["token"].as_str().expect("demo login works").to_string()
    }

    /// Creates an agent in `pre-sales`; returns its id.
    pub async fn add_agent(&self, username: &str, display_name: &str, password: &str) -> String {
        let admin = self.admin_token().await;
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/agents", self.url()))
            .bearer_auth(admin)
            .json(&json!({
                "username": username, "display_name": display_name, "password": password,
                "role": "agent", "capacity": 5, "groups": ["pre-sales"],
            }))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "creating {username}: {res:?}");
        let v: Value = res.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// GET with a token, as JSON.
    pub async fn get(&self, path: &str, token: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Kefu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A scripted shopper on the `demo` site.
pub struct Shopper {
    pub ws: Ws,
    pub token: String,
    pub conversation_id: String,
}

impl Shopper {
    /// Opens a visitor session (with a name) and its socket.
    pub async fn open(kefu: &Kefu, name: &str) -> Self {
        let v: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/visitor/session", kefu.url()))
            .json(&json!({"site_id": "demo", "name": name}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = v["visitor_token"].as_str().unwrap().to_string();
        let mut req = format!("ws://{}/ws/shopper", kefu.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        Self {
            ws,
            token,
            conversation_id: String::new(),
        }
    }

    /// Says something (opening the conversation the first time); returns the ack.
    pub async fn say(&mut self, text: &str) -> pb::Ack {
        let id = uuid::Uuid::new_v4().to_string();
        let send = In::Send(pb::SendMessage {
            conversation_id: self.conversation_id.clone(),
            client_msg_id: id.clone(),
            body: Some(pb::MessageBody {
                kind: Some(pb::message_body::Kind::Text(pb::Text { text: text.into() })),
            }),
            group: String::new(),
        });
        self.send(send).await;
        let ack = self
            .recv_until(|f| match f {
                Out::Ack(a) if a.client_msg_id == id => Some(a.clone()),
                _ => None,
            })
            .await;
        self.conversation_id = ack.conversation_id.clone();
        ack
    }

    pub async fn send(&mut self, kind: In) {
        let frame = pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec();
        self.ws.send(WsMessage::Binary(frame.into())).await.unwrap();
    }

    /// Reads frames until `f` picks one.
    pub async fn recv_until<T>(&mut self, mut f: impl FnMut(&Out) -> Option<T>) -> T {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("socket open")
                .unwrap();
            if let WsMessage::Binary(b) = frame
                && let Ok(pb::ServerEnvelope { kind: Some(k) }) = pb::ServerEnvelope::decode(b)
                && let Some(t) = f(&k)
            {
                return t;
            }
        }
    }

    /// Waits for an agent's text message and returns it.
    pub async fn hears(&mut self, text: &str) -> pb::Message {
        self.recv_until(|f| match f {
            Out::Message(m) if text_of(m) == Some(text) => Some(m.clone()),
            _ => None,
        })
        .await
    }
}

pub fn text_of(m: &pb::Message) -> Option<&str> {
    match m.body.as_ref()?.kind.as_ref()? {
        pb::message_body::Kind::Text(t) => Some(&t.text),
        _ => None,
    }
}

/// Polls `f` until it holds, failing after [`WAIT`].
pub async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The texts in the server's history of a conversation, in seq order, with their senders'
/// roles (`shopper`, `agent`…).
pub async fn server_texts(kefu: &Kefu, token: &str, conversation_id: &str) -> Vec<String> {
    let page = kefu
        .get(
            &format!("/api/v1/conversations/{conversation_id}/messages?limit=200"),
            token,
        )
        .await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"]["text"].as_str().map(String::from))
        .collect()
}
