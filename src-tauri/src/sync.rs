//! The sync engine: one task that keeps the cache and the server in step.
//!
//! After every (re)connect it resumes each cached conversation from its last seq, then
//! delivers the outbox **one message at a time, in the order written**: the next message
//! goes only after the previous one was acknowledged, so order holds even when one is
//! refused or rate limited. A message whose ack was lost is resent with the same
//! `client_msg_id` and the server answers with the original ack, so nothing is delivered
//! twice. Received messages are stored by `(conversation, seq)`, so duplicates vanish.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use prost::Message as _;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::{
    cache::Cache,
    client::{Server, Socket},
};

/// What the engine tells the UI.
#[derive(Debug, Clone)]
pub enum Event {
    /// Connected and resumed.
    Online,
    /// The connection dropped; the engine is reconnecting.
    Offline(String),
    /// A message new to the cache.
    Message(pb::Message),
    /// The server refused an outbox message for good (e.g. the chat was transferred away);
    /// it left the outbox.
    Undeliverable {
        client_msg_id: String,
        code: i32,
        reason: String,
    },
    /// Any other server frame (events, typing, presence…).
    Frame(Out),
}

enum Cmd {
    Flush,
    Raw(In),
}

/// Handle to a running engine; dropping every handle stops it.
#[derive(Clone)]
pub struct Sync {
    cache: Cache,
    cmds: mpsc::Sender<Cmd>,
    events: broadcast::Sender<Event>,
    online: watch::Receiver<bool>,
}

/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Sync {
    /// Starts the engine for `server` on `cache`.
    pub fn start(cache: Cache, server: Server) -> Self {
        let (cmds, rx) = mpsc::channel(256);
        let (events, _) = broadcast::channel(1024);
        let (online_tx, online) = watch::channel(false);
        let engine = Engine {
            cache: cache.clone(),
            server,
            events: events.clone(),
            online: online_tx,
            in_flight: None,
        };
        tokio::spawn(engine.run(rx));
        Self {
            cache,
            cmds,
            events,
            online,
        }
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Whether the engine is connected right now.
    pub fn is_online(&self) -> bool {
        *self.online.borrow()
    }

    /// Writes a text message: it goes to the outbox first (durable), then out when online.
    /// Returns its `client_msg_id`.
    pub async fn send_text(&self, conversation_id: &str, text: &str) -> anyhow::Result<String> {
        let body = pb::MessageBody {
            kind: Some(pb::message_body::Kind::Text(pb::Text { text: text.into() })),
        };
        self.send_body(conversation_id, body).await
    }

    /// Writes any message body through the outbox.
    pub async fn send_body(
        &self,
        conversation_id: &str,
        body: pb::MessageBody,
    ) -> anyhow::Result<String> {
        let client_msg_id = uuid::Uuid::new_v4().to_string();
        let send = pb::SendMessage {
            conversation_id: conversation_id.into(),
            client_msg_id: client_msg_id.clone(),
            body: Some(body),
            group: String::new(),
        };
        self.cache.enqueue(&send).await?;
        let _ = self.cmds.send(Cmd::Flush).await;
        Ok(client_msg_id)
    }

    /// Accepts an offered conversation and starts caching it.
    pub async fn accept(&self, conversation_id: &str) -> anyhow::Result<()> {
        self.cache.track(conversation_id).await?;
        let _ = self
            .cmds
            .send(Cmd::Raw(In::Accept(pb::AcceptOffer {
                conversation_id: conversation_id.into(),
            })))
            .await;
        Ok(())
    }
}

struct Engine {
    cache: Cache,
    server: Server,
    events: broadcast::Sender<Event>,
    online: watch::Sender<bool>,
    /// The outbox message sent and not yet answered.
    in_flight: Option<String>,
}

/// How a session ended.
enum End {
    /// The connection dropped or the server said goodbye: reconnect.
    Disconnected(String),
    /// Every handle is gone: stop.
    Stopped,
}

impl Engine {
    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let reason = match self.server.connect().await {
                Ok(socket) => {
                    backoff = BACKOFF_MIN;
                    match self.session(socket, &mut cmds).await {
                        End::Stopped => return,
                        End::Disconnected(r) => r,
                    }
                }
                Err(e) => e.to_string(),
            };
            self.in_flight = None;
            let _ = self.online.send(false);
            let _ = self.events.send(Event::Offline(reason));
            // Wait before retrying, but stop promptly if every handle is dropped.
            let sleep = tokio::time::sleep(backoff);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    cmd = cmds.recv() => if cmd.is_none() { return },
                }
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    async fn session(&mut self, mut socket: Socket, cmds: &mut mpsc::Receiver<Cmd>) -> End {
        let heartbeat = match read_frame(&mut socket).await {
            Some(Out::Hello(h)) => {
                Duration::from_millis(u64::from(h.heartbeat_interval_ms.max(1000)) / 2)
            }
            other => return End::Disconnected(format!("expected Hello, got {other:?}")),
        };
        match self.cache.positions().await {
            Ok(positions) => {
                for (conversation_id, last_seq) in positions {
                    if send(
                        &mut socket,
                        In::Resume(pb::Resume {
                            conversation_id,
                            last_seq,
                        }),
                    )
                    .await
                    .is_err()
                    {
                        return End::Disconnected("send failed".into());
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "reading the cache"),
        }
        let _ = self.online.send(true);
        let _ = self.events.send(Event::Online);
        if let Err(e) = self.send_next(&mut socket).await {
            return End::Disconnected(e);
        }
        let mut tick = tokio::time::interval(heartbeat);
        loop {
            tokio::select! {
                cmd = cmds.recv() => {
                    let result = match cmd {
                        None => return End::Stopped,
                        Some(Cmd::Flush) => self.send_next(&mut socket).await,
                        Some(Cmd::Raw(kind)) => send(&mut socket, kind).await,
                    };
                    if let Err(e) = result {
                        return End::Disconnected(e);
                    }
                }
                frame = read_frame(&mut socket) => match frame {
                    Some(Out::GoAway(g)) => return End::Disconnected(format!("server going away: {}", g.reason)),
                    Some(frame) => {
                        if let Err(e) = self.handle(&mut socket, frame).await {
                            return End::Disconnected(e);
                        }
                    }
                    None => return End::Disconnected("connection closed".into()),
                },
                _ = tick.tick() => {
                    if let Err(e) = send(&mut socket, In::Heartbeat(pb::Heartbeat { at_ms: 0 })).await {
                        return End::Disconnected(e);
                    }
                }
            }
        }
    }

    /// Sends the head of the outbox unless a message is already in flight.
    async fn send_next(&mut self, socket: &mut Socket) -> Result<(), String> {
        if self.in_flight.is_some() {
            return Ok(());
        }
        let head = self
            .cache
            .pending()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .next();
        if let Some(p) = head {
            self.in_flight = Some(p.client_msg_id.clone());
            send(socket, In::Send(p.send)).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, socket: &mut Socket, frame: Out) -> Result<(), String> {
        match frame {
            Out::Message(m) => {
                if self
                    .cache
                    .store_message(&m)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    let _ = self.events.send(Event::Message(m));
                }
            }
            Out::Ack(a) => {
                self.cache
                    .settle(&a.client_msg_id)
                    .await
                    .map_err(|e| e.to_string())?;
                if self.in_flight.as_deref() == Some(a.client_msg_id.as_str()) {
                    self.in_flight = None;
                }
                let _ = self.events.send(Event::Frame(Out::Ack(a)));
                self.send_next(socket).await?;
            }
            Out::Error(e)
                if !e.client_msg_id.is_empty()
                    && self.in_flight.as_deref() == Some(e.client_msg_id.as_str()) =>
            {
                self.in_flight = None;
                let retry = matches!(
                    pb::ErrorCode::try_from(e.code),
                    Ok(pb::ErrorCode::RateLimited | pb::ErrorCode::Internal)
                );
                if retry {
                    // Keep it at the head of the outbox; try again shortly.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                } else {
                    self.cache
                        .settle(&e.client_msg_id)
                        .await
                        .map_err(|e| e.to_string())?;
                    let _ = self.events.send(Event::Undeliverable {
                        client_msg_id: e.client_msg_id.clone(),
                        code: e.code,
                        reason: e.message.clone(),
                    });
                }
                self.send_next(socket).await?;
            }
            Out::Event(e) => {
                if let Some(pb::conversation_event::Kind::Assigned(_)) = &e.kind {
                    // A chat just became ours: cache it and fetch what was said before.
                    self.cache
                        .track(&e.conversation_id)
                        .await
                        .map_err(|e| e.to_string())?;
                    let last_seq = self
                        .cache
                        .last_seq(&e.conversation_id)
                        .await
                        .map_err(|e| e.to_string())?;
                    send(
                        socket,
                        In::Resume(pb::Resume {
                            conversation_id: e.conversation_id.clone(),
                            last_seq,
                        }),
                    )
                    .await?;
                }
                let _ = self.events.send(Event::Frame(Out::Event(e)));
            }
            other => {
                let _ = self.events.send(Event::Frame(other));
            }
        }
        Ok(())
    }
}

async fn send(socket: &mut Socket, kind: In) -> Result<(), String> {
    let frame = pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec();
    socket
        .send(WsMessage::Binary(frame.into()))
        .await
        .map_err(|e| e.to_string())
}

/// The next server frame, skipping control frames; `None` when the socket ends.
async fn read_frame(socket: &mut Socket) -> Option<Out> {
    loop {
        match socket.next().await? {
            Ok(WsMessage::Binary(b)) => match pb::ServerEnvelope::decode(b) {
                Ok(pb::ServerEnvelope { kind: Some(k) }) => return Some(k),
                _ => continue,
            },
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}
