//! The sync engine: one task that keeps the cache and the server in step.
//!
//! Every (re)connect resumes each cached conversation from its last seq — named in the
//! upgrade request, so the server replays them before any live message — then
//! delivers the outbox **one message at a time, in the order written**: the next message
//! goes only after the previous one was acknowledged, so order holds even when one is
//! refused or rate limited. A message whose ack was lost is resent with the same
//! `client_msg_id` and the server answers with the original ack, so nothing is delivered
//! twice. Received messages are stored by `(conversation, seq)`, so duplicates vanish.
//!
//! What each conversation event tells the cache is in `lifecycle`.

mod lifecycle;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use prost::Message as _;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::{
    cache::Cache,
    client::{ClientError, Server, Socket},
};
use lifecycle::info;

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
        conversation_id: String,
        client_msg_id: String,
        code: i32,
        reason: String,
    },
    /// What the cache knows about a conversation changed (offer, queue, assignment,
    /// transfer, close…); the frame that changed it is carried along.
    Changed {
        conversation_id: String,
        event: pb::ConversationEvent,
    },
    /// The server no longer accepts our token: the engine stopped.
    SessionExpired,
    /// Any other server frame (acks, typing, receipts, presence…).
    Frame(Out),
}

/// A command needed a connection and there was none.
#[derive(Debug, thiserror::Error)]
#[error("not connected to the server; try again when the connection is back")]
pub struct NotOnline;

enum Cmd {
    Flush,
    Raw(Box<In>),
}

/// Handle to a running engine; dropping every handle stops it.
#[derive(Clone)]
pub struct Sync {
    cache: Cache,
    cmds: mpsc::Sender<Cmd>,
    events: broadcast::Sender<Event>,
    online: watch::Receiver<bool>,
    focus: watch::Sender<Option<String>>,
    status: watch::Sender<pb::AgentStatus>,
}

/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Most resume points the server takes in an upgrade request; any more are asked for with
/// `Resume` frames after `Hello` (the most recently active go in the request).
const MAX_RESUME_IN_URL: usize = 100;

impl Sync {
    /// Starts the engine for `server` on `cache`.
    pub fn start(cache: Cache, server: Server) -> Self {
        let (cmds, rx) = mpsc::channel(256);
        let (events, _) = broadcast::channel(1024);
        let (online_tx, online) = watch::channel(false);
        let (focus, focus_rx) = watch::channel(None);
        let (status, status_rx) = watch::channel(pb::AgentStatus::Online);
        let engine = Engine {
            cache: cache.clone(),
            server,
            events: events.clone(),
            online: online_tx,
            in_flight: None,
            me: String::new(),
            focus: focus_rx,
            status: status_rx,
        };
        tokio::spawn(engine.run(rx));
        Self {
            cache,
            cmds,
            events,
            online,
            focus,
            status,
        }
    }

    /// The status the agent chose: set on every connection from now on (a new connection
    /// starts online on the server). Send it live too to change it now.
    pub fn set_status(&self, status: pb::AgentStatus) {
        self.status.send_replace(status);
    }

    /// The conversation the agent is looking at (`None`: none, or the window is hidden):
    /// its new messages do not count as unread.
    pub fn set_focus(&self, conversation_id: Option<String>) {
        self.focus.send_replace(conversation_id);
    }

    /// Sends a frame that only makes sense live (typing, receipts, status, accept, transfer,
    /// close): refused when offline rather than queued for later.
    pub async fn live(&self, kind: In) -> Result<(), NotOnline> {
        if !self.is_online() {
            return Err(NotOnline);
        }
        self.cmds
            .send(Cmd::Raw(Box::new(kind)))
            .await
            .map_err(|_| NotOnline)
    }

    /// Asks the server for a conversation's messages after `last_seq` (fills the cache).
    pub async fn resume(&self, conversation_id: &str, last_seq: u64) -> Result<(), NotOnline> {
        self.live(In::Resume(pb::Resume {
            conversation_id: conversation_id.into(),
            last_seq,
        }))
        .await
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
            context: None,
        };
        self.cache.enqueue(&send).await?;
        let _ = self.cmds.send(Cmd::Flush).await;
        Ok(client_msg_id)
    }

    /// Accepts an offered (or queued) conversation.
    pub async fn accept(&self, conversation_id: &str) -> Result<(), NotOnline> {
        self.live(In::Accept(pb::AcceptOffer {
            conversation_id: conversation_id.into(),
        }))
        .await
    }
}

struct Engine {
    cache: Cache,
    server: Server,
    events: broadcast::Sender<Event>,
    online: watch::Sender<bool>,
    /// The outbox message sent and not yet answered.
    in_flight: Option<String>,
    /// Our agent id, from the server's Hello.
    me: String,
    focus: watch::Receiver<Option<String>>,
    status: watch::Receiver<pb::AgentStatus>,
}

/// How a session ended.
enum End {
    /// The connection dropped or the server said goodbye: reconnect, not before `wait`.
    Disconnected { reason: String, wait: Duration },
    /// Every handle is gone: stop.
    Stopped,
}

impl End {
    fn dropped(reason: impl Into<String>) -> Self {
        End::Disconnected {
            reason: reason.into(),
            wait: Duration::ZERO,
        }
    }

    /// The server's goodbye: its `retry_after_ms`, and for a sign-in holding too many
    /// sockets (another desk window), the longest backoff rather than a tight loop.
    fn go_away(g: &pb::GoAway) -> Self {
        let mut wait = Duration::from_millis(u64::from(g.retry_after_ms));
        if g.code == pb::GoAwayCode::TooManyConnections as u32 {
            wait = wait.max(BACKOFF_MAX);
        }
        End::Disconnected {
            reason: format!("server going away: {}", g.reason),
            wait,
        }
    }
}

impl Engine {
    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let mut resume = self.cache.positions().await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "reading the cache");
                Vec::new()
            });
            let later = resume.split_off(resume.len().min(MAX_RESUME_IN_URL));
            let (reason, wait) = match self.server.connect(&resume).await {
                Ok(socket) => {
                    backoff = BACKOFF_MIN;
                    match self.session(socket, later, &mut cmds).await {
                        End::Stopped => return,
                        End::Disconnected { reason, wait } => (reason, wait),
                    }
                }
                Err(ClientError::SessionExpired) => {
                    let _ = self.online.send(false);
                    let _ = self.events.send(Event::SessionExpired);
                    return;
                }
                Err(e) => (e.to_string(), Duration::ZERO),
            };
            self.in_flight = None;
            let _ = self.online.send(false);
            let _ = self.events.send(Event::Offline(reason));
            // Wait before retrying, but stop promptly if every handle is dropped.
            let sleep = tokio::time::sleep(backoff.max(wait));
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

    /// One connection, from `Hello` to its end. The upgrade request named the first resume
    /// points; `later` are the rest.
    async fn session(
        &mut self,
        mut socket: Socket,
        later: Vec<(String, u64)>,
        cmds: &mut mpsc::Receiver<Cmd>,
    ) -> End {
        let heartbeat = match read_frame(&mut socket).await {
            Some(Out::Hello(h)) => {
                self.me = h.you.map(|p| p.id).unwrap_or_default();
                Duration::from_millis(u64::from(h.heartbeat_interval_ms.max(1000)) / 2)
            }
            Some(Out::GoAway(g)) => return End::go_away(&g),
            other => return End::dropped(format!("expected Hello, got {other:?}")),
        };
        if let Err(e) = self.cache.void_offers().await {
            tracing::error!(error = %e, "voiding offers of the last connection");
        }
        let status = *self.status.borrow();
        if status != pb::AgentStatus::Online {
            let frame = In::SetStatus(pb::SetStatus {
                status: status as i32,
            });
            if let Err(e) = send(&mut socket, frame).await {
                return End::dropped(e);
            }
        }
        for (conversation_id, last_seq) in later {
            let resume = In::Resume(pb::Resume {
                conversation_id,
                last_seq,
            });
            if let Err(e) = send(&mut socket, resume).await {
                return End::dropped(e);
            }
        }
        let _ = self.online.send(true);
        let _ = self.events.send(Event::Online);
        if let Err(e) = self.send_next(&mut socket).await {
            return End::dropped(e);
        }
        let mut tick = tokio::time::interval(heartbeat);
        loop {
            tokio::select! {
                cmd = cmds.recv() => {
                    let result = match cmd {
                        None => return End::Stopped,
                        Some(Cmd::Flush) => self.send_next(&mut socket).await,
                        Some(Cmd::Raw(kind)) => send(&mut socket, *kind).await,
                    };
                    if let Err(e) = result {
                        return End::dropped(e);
                    }
                }
                frame = read_frame(&mut socket) => match frame {
                    Some(Out::GoAway(g)) => return End::go_away(&g),
                    Some(frame) => {
                        if let Err(e) = self.handle(&mut socket, frame).await {
                            return End::dropped(e);
                        }
                    }
                    None => return End::dropped("connection closed"),
                },
                _ = tick.tick() => {
                    if let Err(e) = send(&mut socket, In::Heartbeat(pb::Heartbeat { at_ms: 0 })).await {
                        return End::dropped(e);
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
            .pending(None)
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
                let focused = self.focus.borrow().as_deref() == Some(m.conversation_id.as_str());
                if self
                    .cache
                    .store_message(&m, focused)
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
                    // The window marks the message failed in its conversation: find which
                    // one before the row goes.
                    let conversation_id = self
                        .cache
                        .pending(None)
                        .await
                        .map_err(|e| e.to_string())?
                        .into_iter()
                        .find(|p| p.client_msg_id == e.client_msg_id)
                        .map(|p| p.conversation_id)
                        .unwrap_or_default();
                    self.cache
                        .settle(&e.client_msg_id)
                        .await
                        .map_err(|e| e.to_string())?;
                    let _ = self.events.send(Event::Undeliverable {
                        conversation_id,
                        client_msg_id: e.client_msg_id.clone(),
                        code: e.code,
                        reason: e.message.clone(),
                    });
                }
                self.send_next(socket).await?;
            }
            Out::Event(e) => {
                let assigned_to_me = matches!(
                    &e.kind,
                    Some(pb::conversation_event::Kind::Assigned(a))
                        if a.agent.as_ref().is_some_and(|p| p.id == self.me)
                );
                self.cache
                    .upsert(&info(&e))
                    .await
                    .map_err(|e| e.to_string())?;
                if assigned_to_me {
                    // A chat just became ours: fetch what was said before.
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
                let _ = self.events.send(Event::Changed {
                    conversation_id: e.conversation_id.clone(),
                    event: e,
                });
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
