//! Test harness for the desktop core: a real `kefu` server process (built from this
//! workspace, started through the workspace's test kit) on 127.0.0.1 with its own SQLite,
//! scripted shoppers, and polling helpers.
#![allow(dead_code, unused_imports)] // each test binary uses a different part

use std::{path::Path, time::Duration};

use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use kefu_testkit::{AgentSpec, KefuCommand, KefuProcess};
pub use kefu_testkit::{target_dir, text_of, workspace_bin};
use prost::Message as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message as WsMessage, client::IntoClientRequest};

pub const WAIT: Duration = Duration::from_secs(20);

/// A running `kefu --demo` process: demo admin `demo` / `kefu-demo`, site `demo`.
pub struct Kefu {
    process: KefuProcess,
    pub addr: String,
}

/// A server that was stopped: the command that starts it again on its address, data and
/// environment.
pub struct Stopped {
    pub addr: String,
    command: KefuCommand,
}

impl Stopped {
    /// Starts it again on the same address and data.
    pub fn start(&self) -> Kefu {
        Kefu::from_command(self.command.clone())
    }

    /// Starts it on the same data but another (free) port: clients of the old address stay
    /// disconnected meanwhile, so a test can change things behind their back.
    pub fn start_elsewhere(&self) -> Kefu {
        Kefu::from_command(self.command.clone().listen("127.0.0.1:0"))
    }
}

impl Kefu {
    /// Starts kefu on `dir` listening on `listen` (`127.0.0.1:0` for any free port).
    pub fn start(dir: &Path, listen: &str) -> Self {
        Self::start_with(dir, listen, &[])
    }

    /// Same, with extra environment (config overrides such as `KEFU_ROUTING__AUTO_ACCEPT`).
    pub fn start_with(dir: &Path, listen: &str, env: &[(&str, &str)]) -> Self {
        let mut command = KefuCommand::new()
            .data_dir(dir)
            .listen(listen)
            .shutdown_grace_secs(1)
            .env("KEFU_LIMITS__MESSAGES_PER_SECOND", "1000")
            .env("KEFU_LIMITS__MESSAGES_BURST", "1000")
            .arg("--demo");
        for (k, v) in env {
            command = command.env(*k, *v);
        }
        Self::from_command(command)
    }

    fn from_command(command: KefuCommand) -> Self {
        let process = command.start().unwrap_or_else(|e| panic!("{e}"));
        Self {
            addr: process.addr.to_string(),
            process,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server hard (as a crash or a pulled cable would).
    pub fn kill(self) -> Stopped {
        Stopped {
            addr: self.addr,
            command: self.process.kill(),
        }
    }

    /// Starts it again on the same address, data and environment.
    pub fn restart(self) -> Self {
        self.kill().start()
    }

    /// Signs in as the demo admin; returns the token.
    pub async fn admin_token(&self) -> String {
        self.login("demo", "kefu-demo").await
    }

    /// Signs in; returns the token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        self.process
            .try_login(username, password)
            .await
            .unwrap_or_else(|e| panic!("{username} signs in: {e}"))
    }

    /// POST with a token; returns the status.
    pub async fn post(&self, path: &str, token: &str) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Creates a bot account (as the demo admin); returns its token.
    pub async fn bot_token(&self, name: &str) -> String {
        let admin = self.admin_token().await;
        let bot: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/bots", self.url()))
            .bearer_auth(&admin)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        bot["token"].as_str().expect("a bot token").to_string()
    }

    /// Creates an agent in `pre-sales`; returns its id.
    pub async fn add_agent(&self, username: &str, display_name: &str, password: &str) -> String {
        let admin = self.admin_token().await;
        let spec = AgentSpec {
            password: password.into(),
            display_name: Some(display_name.into()),
            capacity: Some(5),
            ..AgentSpec::agent(username, &["pre-sales"])
        };
        self.process.create_agent(&admin, &spec).await
    }

    /// Creates a supervisor in no group (no chat is routed to them; they watch all); returns
    /// its id.
    pub async fn add_supervisor(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> String {
        let admin = self.admin_token().await;
        let spec = AgentSpec {
            password: password.into(),
            display_name: Some(display_name.into()),
            role: "supervisor".into(),
            ..AgentSpec::agent(username, &[])
        };
        self.process.create_agent(&admin, &spec).await
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

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws/{who}` with a bearer token.
async fn socket(kefu: &Kefu, who: &str, token: &str) -> Ws {
    let mut req = format!("ws://{}/ws/{who}", kefu.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws
}

async fn send_frame(ws: &mut Ws, kind: In) {
    let frame = pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec();
    ws.send(WsMessage::Binary(frame.into())).await.unwrap();
}

/// Reads frames until `f` picks one, failing after [`WAIT`].
async fn recv_until<T>(ws: &mut Ws, mut f: impl FnMut(&Out) -> Option<T>) -> T {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
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

/// A scripted shopper on the `demo` site.
pub struct Shopper {
    pub ws: Ws,
    pub token: String,
    pub conversation_id: String,
}

impl Shopper {
    /// Opens a visitor session (with a name) and its socket.
    pub async fn open(kefu: &Kefu, name: &str) -> Self {
        Self::open_with(kefu, json!({"site_id": "demo", "name": name})).await
    }

    /// Opens a visitor session from this request body (e.g. with an `email` that identifies
    /// the shopper in the back office) and its socket.
    pub async fn open_with(kefu: &Kefu, session: Value) -> Self {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/visitor/session", kefu.url()))
            .json(&session)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "visitor session: {res:?}");
        let v: Value = res.json().await.unwrap();
        let token = v["visitor_token"].as_str().unwrap().to_string();
        Self {
            ws: socket(kefu, "shopper", &token).await,
            token,
            conversation_id: String::new(),
        }
    }

    /// Opens the visitor's conversation over REST, as the widget does, with this request body
    /// (e.g. the page `context`); later messages go to it. Returns the conversation JSON.
    pub async fn open_conversation(&mut self, kefu: &Kefu, body: Value) -> Value {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/visitor/conversation", kefu.url()))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "opening a conversation: {res:?}");
        let v: Value = res.json().await.unwrap();
        self.conversation_id = v["id"].as_str().unwrap().to_string();
        v
    }

    /// A new socket for the same visitor (after the server or the network went away).
    pub async fn reconnect(&mut self, kefu: &Kefu) {
        self.ws = socket(kefu, "shopper", &self.token).await;
    }

    /// Asks for what was written in the conversation after `last_seq`.
    pub async fn resume(&mut self, last_seq: u64) {
        let resume = In::Resume(pb::Resume {
            conversation_id: self.conversation_id.clone(),
            last_seq,
        });
        self.send(resume).await;
    }

    /// Says something (opening the conversation the first time); returns the ack.
    pub async fn say(&mut self, text: &str) -> pb::Ack {
        self.say_on(text, None).await
    }

    /// Says something from a page (`context`, as the widget reports it); returns the ack.
    pub async fn say_on(&mut self, text: &str, context: Option<pb::PageContext>) -> pb::Ack {
        let id = uuid::Uuid::new_v4().to_string();
        let send = In::Send(pb::SendMessage {
            conversation_id: self.conversation_id.clone(),
            client_msg_id: id.clone(),
            body: Some(pb::MessageBody {
                kind: Some(pb::message_body::Kind::Text(pb::Text { text: text.into() })),
            }),
            group: String::new(),
            context,
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
        send_frame(&mut self.ws, kind).await;
    }

    /// Reads frames until `f` picks one.
    pub async fn recv_until<T>(&mut self, f: impl FnMut(&Out) -> Option<T>) -> T {
        recv_until(&mut self.ws, f).await
    }

    /// Waits for an agent's text message and returns it.
    pub async fn hears(&mut self, text: &str) -> pb::Message {
        self.recv_until(|f| match f {
            Out::Message(m) if text_of(m) == Some(text) => Some(m.clone()),
            _ => None,
        })
        .await
    }

    /// Every agent text this socket receives, in arrival order, up to and including `last`.
    pub async fn agent_texts_until(&mut self, last: &str) -> Vec<String> {
        let mut heard = Vec::new();
        self.recv_until(|f| {
            if let Out::Message(m) = f
                && m.sender.as_ref().map(|s| s.role) == Some(pb::Role::Agent as i32)
                && let Some(text) = text_of(m)
            {
                heard.push(text.to_string());
                return (text == last).then_some(());
            }
            None
        })
        .await;
        heard
    }
}

/// A staff member's own agent socket (e.g. the demo admin acting as a supervisor).
pub struct Staff {
    ws: Ws,
}

impl Staff {
    pub async fn connect(kefu: &Kefu, token: &str) -> Self {
        let mut ws = socket(kefu, "agent", token).await;
        recv_until(&mut ws, |f| matches!(f, Out::Hello(_)).then_some(())).await;
        Self { ws }
    }

    /// Transfers a conversation to a group's queue; fails if the server refuses.
    pub async fn transfer_to_group(&mut self, conversation_id: &str, group: &str) {
        let transfer = In::Transfer(pb::TransferConversation {
            conversation_id: conversation_id.into(),
            to_agent_id: String::new(),
            to_group: group.into(),
            note: String::new(),
        });
        send_frame(&mut self.ws, transfer).await;
        // Supervisors watch every conversation, so the transfer's own event comes back.
        recv_until(&mut self.ws, |f| match f {
            Out::Error(e) => panic!("the transfer was refused: {e:?}"),
            Out::Event(e)
                if e.conversation_id == conversation_id
                    && matches!(e.kind, Some(pb::conversation_event::Kind::Transferred(_))) =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
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

/// The messages in the server's history of a conversation (JSON), in seq order.
pub async fn server_messages(kefu: &Kefu, token: &str, conversation_id: &str) -> Vec<Value> {
    let page = kefu
        .get(
            &format!("/api/v1/conversations/{conversation_id}/messages?limit=200"),
            token,
        )
        .await;
    match page["messages"].as_array() {
        Some(messages) => messages.clone(),
        None => panic!("a page of messages: {page}"),
    }
}

/// The texts in the server's history of a conversation, in seq order, whoever wrote them.
pub async fn server_texts(kefu: &Kefu, token: &str, conversation_id: &str) -> Vec<String> {
    server_messages(kefu, token, conversation_id)
        .await
        .iter()
        .filter_map(|m| m["body"]["text"].as_str().map(String::from))
        .collect()
}

/// The agents' text messages in the server's history of a conversation, in seq order.
pub async fn server_agent_texts(kefu: &Kefu, token: &str, conversation_id: &str) -> Vec<String> {
    server_messages(kefu, token, conversation_id)
        .await
        .iter()
        .filter(|m| m["sender_role"] == "agent" && m["body"]["type"] == "text")
        .map(|m| m["body"]["text"].as_str().unwrap().to_string())
        .collect()
}

/// A notification display that records what it is asked to show.
#[derive(Default)]
pub struct Recorder(std::sync::Mutex<Vec<kefu_desk::notifier::Toast>>);

impl Recorder {
    /// The toasts shown so far, oldest first.
    pub fn toasts(&self) -> Vec<kefu_desk::notifier::Toast> {
        self.0.lock().unwrap().clone()
    }
}

impl kefu_desk::notifier::Display for Recorder {
    fn show(&self, toast: kefu_desk::notifier::Toast) {
        self.0.lock().unwrap().push(toast);
    }
}

/// Fails (never skips) a test that needs the OS desktop services when there is no session
/// bus: such tests run through `scripts/desktop-session.sh`.
#[track_caller]
pub fn require_desktop_session() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "DBUS_SESSION_BUS_ADDRESS is not set: this test needs a desktop session (D-Bus, Secret \
         Service, notification server). Run it through scripts/desktop-session.sh, e.g. \
         `scripts/desktop-session.sh cargo test -p kefu-desk`"
    );
}
