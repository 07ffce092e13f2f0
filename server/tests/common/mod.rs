//! Test harness: the real server on 127.0.0.1:0 with a temp SQLite database, driven by real
//! HTTP and WebSocket clients speaking the protobuf contract.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_server::{
    auth::password,
    config::{Settings, Site},
    seed,
    store::{NewAgent, Role, Store},
};
use prost::Message as _;
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

/// How long any single expected event may take before a test fails. Generous: CI is shared.
pub const WAIT: Duration = Duration::from_secs(15);
pub const SITE: &str = "shop";
pub const ORIGIN: &str = "http://shop.test";
pub const SECRET: &str = "test-identity-secret";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestServer {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub settings: Settings,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Settings for tests: temp data dir, one site, defaults otherwise.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.server.data_dir = dir.to_path_buf();
    s.server.shutdown_grace_secs = 2;
    s.sites.push(Site {
        id: SITE.into(),
        name: "Test shop".into(),
        allowed_origins: vec![ORIGIN.into()],
        identity_secret: SECRET.into(),
        default_group: "pre-sales".into(),
        welcome: String::new(),
    });
    // Tests send faster than a person types.
    s.limits.messages_per_second = 1000;
    s.limits.messages_burst = 1000;
    s
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_with_plugins(tweak, kefu_server::plugins::Registry::builtin()).await
    }

    /// Starts with `registry` offering the plugins `[plugins]` may name (tests add their own).
    pub async fn start_with_plugins(
        tweak: impl FnOnce(&mut Settings),
        registry: kefu_server::plugins::Registry,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = test_settings(dir.path());
        tweak(&mut settings);
        let store = kefu_server::open_store(&settings).await.unwrap();
        seed::ensure_groups(store.as_ref()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(kefu_server::run_with(
            settings.clone(),
            store.clone(),
            listener,
            async move {
                let _ = stopped.await;
            },
            registry,
        ));
        Self {
            addr,
            store,
            settings,
            http: reqwest::Client::new(),
            _dir: dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }

    /// Creates an agent directly in the store and signs it in over REST.
    pub async fn agent(
        &self,
        username: &str,
        role: Role,
        groups: &[&str],
        capacity: i64,
    ) -> TestAgent {
        let agent = self
            .store
            .create_agent(&NewAgent {
                username: username.into(),
                display_name: format!("Agent {username}"),
                password_hash: password::hash(PASSWORD.into()).await.unwrap(),
                role,
                capacity,
                groups: groups.iter().map(|g| g.to_string()).collect(),
            })
            .await
            .unwrap();
        let token = self.login(username, PASSWORD).await;
        TestAgent {
            id: agent.id.to_string(),
            token,
        }
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let res = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login of {username} should succeed");
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Starts an anonymous visitor session for the test site.
    pub async fn visitor(&self) -> TestVisitor {
        self.visitor_with(json!({"site_id": SITE})).await
    }

    pub async fn visitor_with(&self, body: Value) -> TestVisitor {
        let res = self
            .http
            .post(self.url("/api/v1/visitor/session"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "visitor session should start");
        let v: Value = res.json().await.unwrap();
        TestVisitor {
            id: v["visitor_id"].as_str().unwrap().into(),
            token: v["visitor_token"].as_str().unwrap().into(),
        }
    }

    /// GET with a bearer token, returning status and JSON body.
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let res = self.http.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    pub async fn shopper_ws(&self, v: &TestVisitor) -> Ws {
        Ws::connect(self.addr, "shopper", &v.token, Some(ORIGIN)).await
    }

    pub async fn agent_ws(&self, a: &TestAgent) -> Ws {
        Ws::connect(self.addr, "agent", &a.token, None).await
    }
}

pub struct TestAgent {
    pub id: String,
    pub token: String,
}

pub struct TestVisitor {
    pub id: String,
    pub token: String,
}

/// A WebSocket client speaking the protobuf contract.
pub struct Ws {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: pb::Hello,
}

/// Builds the upgrade request for `/ws/{kind}`.
pub fn ws_request(
    addr: SocketAddr,
    kind: &str,
    token: &str,
    origin: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = format!("ws://{addr}/ws/{kind}?token={token}")
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    req
}

impl Ws {
    pub async fn connect(addr: SocketAddr, kind: &str, token: &str, origin: Option<&str>) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(ws_request(addr, kind, token, origin))
            .await
            .unwrap_or_else(|e| panic!("{kind} socket should connect: {e}"));
        let mut me = Self {
            ws,
            hello: pb::Hello::default(),
        };
        me.hello = me
            .recv_until(|k| match k {
                Out::Hello(h) => Some(h.clone()),
                _ => None,
            })
            .await;
        me
    }

    pub async fn send(&mut self, kind: In) {
        let frame = pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec();
        self.ws.send(Message::Binary(frame.into())).await.unwrap();
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.ws.send(msg).await.unwrap();
    }

    /// Sends a text message; `conv` may be empty for a shopper's first message.
    pub async fn send_text(&mut self, conv: &str, client_msg_id: &str, text: &str) {
        self.send(text_msg(conv, client_msg_id, text)).await;
    }

    /// Sends a text and waits for its ack (skipping other frames).
    pub async fn say(&mut self, conv: &str, client_msg_id: &str, text: &str) -> pb::Ack {
        self.send_text(conv, client_msg_id, text).await;
        let id = client_msg_id.to_string();
        self.recv_until(move |k| match k {
            Out::Ack(a) if a.client_msg_id == id => Some(a.clone()),
            Out::Error(e) if e.client_msg_id == id => panic!("send {id} failed: {e:?}"),
            _ => None,
        })
        .await
    }

    /// The next server frame, or `None` if the socket closed.
    pub async fn next(&mut self) -> Option<Out> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within the wait time");
            match msg {
                Some(Ok(Message::Binary(b))) => {
                    return Some(
                        pb::ServerEnvelope::decode(b)
                            .expect("server frames decode")
                            .kind
                            .expect("kind set"),
                    );
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Reads frames until `f` picks one; panics if the socket closes first.
    pub async fn recv_until<T>(&mut self, mut f: impl FnMut(&Out) -> Option<T>) -> T {
        loop {
            let frame = self.next().await.expect("socket open while waiting");
            if let Some(t) = f(&frame) {
                return t;
            }
        }
    }

    /// Waits for a stored message matching `f`.
    pub async fn recv_message(&mut self, mut f: impl FnMut(&pb::Message) -> bool) -> pb::Message {
        self.recv_until(|k| match k {
            Out::Message(m) if f(m) => Some(m.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for the next message written by a bot or plugin.
    pub async fn recv_bot_message(&mut self) -> pb::Message {
        self.recv_message(is_bot).await
    }

    /// Waits for a lifecycle event matching `f`.
    pub async fn recv_event<T>(
        &mut self,
        mut f: impl FnMut(&pb::ConversationEvent) -> Option<T>,
    ) -> T {
        self.recv_until(|k| match k {
            Out::Event(e) => f(e),
            _ => None,
        })
        .await
    }

    /// Waits for an error frame.
    pub async fn recv_error(&mut self) -> pb::Error {
        self.recv_until(|k| match k {
            Out::Error(e) => Some(e.clone()),
            _ => None,
        })
        .await
    }

    /// Reads until the server closes the socket, returning every frame seen.
    pub async fn drain_until_closed(&mut self) -> Vec<Out> {
        let mut seen = Vec::new();
        while let Some(f) = self.next().await {
            seen.push(f);
        }
        seen
    }

    /// Agent: waits for an offer and accepts it; returns the conversation id.
    pub async fn accept_next_offer(&mut self) -> String {
        let conv = self
            .recv_event(|e| {
                matches!(e.kind, Some(pb::conversation_event::Kind::Offered(_)))
                    .then(|| e.conversation_id.clone())
            })
            .await;
        self.send(In::Accept(pb::AcceptOffer {
            conversation_id: conv.clone(),
        }))
        .await;
        let c = conv.clone();
        self.recv_event(move |e| {
            (e.conversation_id == c
                && matches!(e.kind, Some(pb::conversation_event::Kind::Assigned(_))))
            .then_some(())
        })
        .await;
        conv
    }
}

/// A `SendMessage` request carrying text (`conv` may be empty for a shopper's first message).
pub fn text_msg(conv: impl Into<String>, client_msg_id: impl Into<String>, text: &str) -> In {
    In::Send(pb::SendMessage {
        conversation_id: conv.into(),
        client_msg_id: client_msg_id.into(),
        body: Some(text_body(text)),
        group: String::new(),
        context: None,
    })
}

pub fn text_body(text: &str) -> pb::MessageBody {
    pb::MessageBody {
        kind: Some(pb::message_body::Kind::Text(pb::Text { text: text.into() })),
    }
}

pub fn note_body(text: &str) -> pb::MessageBody {
    pb::MessageBody {
        kind: Some(pb::message_body::Kind::PrivateNote(pb::PrivateNote {
            text: text.into(),
        })),
    }
}

/// The text of a message, if it is a text message.
pub fn text_of(m: &pb::Message) -> Option<&str> {
    match m.body.as_ref()?.kind.as_ref()? {
        pb::message_body::Kind::Text(t) => Some(&t.text),
        _ => None,
    }
}

/// Whether a bot or plugin wrote the message.
pub fn is_bot(m: &pb::Message) -> bool {
    m.sender
        .as_ref()
        .is_some_and(|s| s.role == pb::Role::Bot as i32)
}

/// Polls `f` until it returns `Some`, failing after the wait time.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Shopper opens a conversation with a first message; returns (socket, conversation id).
pub async fn shopper_opens(srv: &TestServer, text: &str) -> (Ws, TestVisitor, String) {
    let v = srv.visitor().await;
    let mut ws = srv.shopper_ws(&v).await;
    let ack = ws.say("", &uuid::Uuid::new_v4().to_string(), text).await;
    (ws, v, ack.conversation_id)
}
