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
    cache::{Cache, ConversationInfo},
    client::{ClientError, Server, Socket},
    model::{ConversationState, PageContext, Priority},
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
        let (focus, focus_rx) = watch::channel(None);
        let engine = Engine {
            cache: cache.clone(),
            server,
            events: events.clone(),
            online: online_tx,
            in_flight: None,
            me: String::new(),
            focus: focus_rx,
        };
        tokio::spawn(engine.run(rx));
        Self {
            cache,
            cmds,
            events,
            online,
            focus,
        }
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
                Err(ClientError::SessionExpired) => {
                    let _ = self.online.send(false);
                    let _ = self.events.send(Event::SessionExpired);
                    return;
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
                self.me = h.you.map(|p| p.id).unwrap_or_default();
                Duration::from_millis(u64::from(h.heartbeat_interval_ms.max(1000)) / 2)
            }
            other => return End::Disconnected(format!("expected Hello, got {other:?}")),
        };
        if let Err(e) = self.cache.void_offers().await {
            tracing::error!(error = %e, "voiding offers of the last connection");
        }
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
                        Some(Cmd::Raw(kind)) => send(&mut socket, *kind).await,
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

/// What a lifecycle event says about the conversation, for the cache.
fn info(e: &pb::ConversationEvent) -> ConversationInfo {
    use pb::conversation_event::Kind;
    let mut c = ConversationInfo {
        id: e.conversation_id.clone(),
        updated_at: Some(e.at_ms),
        ..Default::default()
    };
    match &e.kind {
        Some(Kind::Queued(q)) => {
            c.state = Some(ConversationState::Queued);
            c.group = Some(q.group.clone());
            c.queue_position = Some(Some(q.position));
        }
        Some(Kind::Offered(o)) => {
            c.state = Some(ConversationState::Offered);
            c.offer_expires_at = Some(Some(o.expires_at_ms));
            if let Some(conv) = &o.conversation {
                c.group = Some(conv.group.clone());
                c.shopper_name = conv.shopper.as_ref().map(|p| p.display_name.clone());
                c.created_at = Some(conv.created_at_ms);
                c.page = conv.context.as_ref().map(page);
                c.tags = Some(conv.tags.clone());
                c.priority = Some(priority(conv.priority()));
            }
        }
        Some(Kind::Assigned(a)) => {
            c.state = Some(ConversationState::Assigned);
            c.agent_id = Some(a.agent.as_ref().map(|p| p.id.clone()));
            c.queue_position = Some(None);
            c.offer_expires_at = Some(None);
        }
        Some(Kind::Transferred(t)) if t.to_agent_id.is_empty() => {
            c.state = Some(ConversationState::Queued);
            c.group = Some(t.to_group.clone());
            c.agent_id = Some(None);
        }
        Some(Kind::Transferred(t)) => c.agent_id = Some(Some(t.to_agent_id.clone())),
        Some(Kind::Closed(_)) => {
            c.state = Some(ConversationState::Closed);
            c.closed_at = Some(Some(e.at_ms));
            c.queue_position = Some(None);
            c.offer_expires_at = Some(None);
        }
        Some(Kind::Reopened(r)) => {
            c.state = Some(ConversationState::Queued);
            c.group = Some(r.group.clone());
            c.agent_id = Some(None);
            c.closed_at = Some(None);
        }
        Some(Kind::OfferWithdrawn(_)) => {
            c.state = Some(ConversationState::Queued);
            c.offer_expires_at = Some(None);
        }
        Some(Kind::CustomerViewReady(_)) | None => {}
    }
    c
}

/// The page context as the protobuf carries it (empty strings when unknown).
fn page(p: &pb::PageContext) -> PageContext {
    let known = |s: &String| (!s.is_empty()).then(|| s.clone());
    PageContext {
        url: known(&p.url),
        title: known(&p.title),
        product_id: known(&p.product_id),
        order_id: known(&p.order_id),
    }
}

/// The protobuf's priority in the desk's terms (unspecified is normal).
fn priority(p: pb::Priority) -> Priority {
    match p {
        pb::Priority::Low => Priority::Low,
        pb::Priority::Unspecified => Priority::Normal,
        pb::Priority::High => Priority::High,
        pb::Priority::Urgent => Priority::Urgent,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(conversation: pb::Conversation) -> pb::ConversationEvent {
        pb::ConversationEvent {
            conversation_id: conversation.id.clone(),
            at_ms: 1_000,
            kind: Some(pb::conversation_event::Kind::Offered(pb::Offered {
                agent_id: "a1".into(),
                expires_at_ms: 31_000,
                conversation: Some(conversation),
            })),
        }
    }

    /// A later event of `id` (at 2 s).
    fn later(id: &str, kind: pb::conversation_event::Kind) -> pb::ConversationEvent {
        pb::ConversationEvent {
            conversation_id: id.into(),
            at_ms: 2_000,
            kind: Some(kind),
        }
    }

    #[tokio::test]
    async fn tags_and_priority_of_an_offer_round_trip_through_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache.db")).await.unwrap();
        let tags = vec!["escalated".to_string(), "keyword:投诉".to_string()];
        let event = offered(pb::Conversation {
            id: "c1".into(),
            tags: tags.clone(),
            priority: pb::Priority::Urgent as i32,
            ..Default::default()
        });
        cache.upsert(&info(&event)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(row.tags, tags, "tags keep their text and order");
        assert_eq!(
            row.priority,
            Priority::Urgent,
            "the offer's priority is stored"
        );

        // A later event that says nothing about tags (an assignment) keeps them.
        let assigned = later(
            "c1",
            pb::conversation_event::Kind::Assigned(pb::Assigned::default()),
        );
        cache.upsert(&info(&assigned)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(
            (row.tags, row.priority),
            (tags, Priority::Urgent),
            "events without a conversation leave tags and priority alone"
        );

        // The server's latest description replaces them whole: tags removed, priority unset.
        let event = offered(pb::Conversation {
            id: "c1".into(),
            ..Default::default()
        });
        cache.upsert(&info(&event)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert!(
            row.tags.is_empty(),
            "tags the server dropped leave the cache"
        );
        assert_eq!(
            row.priority,
            Priority::Normal,
            "unspecified priority reads as normal"
        );
    }

    /// The list is refreshed over REST after every connect, while offers arrive on the
    /// socket: a listing fetched before the offer must not turn it back into "queued".
    #[tokio::test]
    async fn a_listed_queued_row_keeps_a_live_offer_and_a_withdrawal_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache.db")).await.unwrap();
        let event = offered(pb::Conversation {
            id: "c1".into(),
            ..Default::default()
        });
        cache.upsert(&info(&event)).await.unwrap();
        let listed = ConversationInfo {
            id: "c1".into(),
            state: Some(ConversationState::Queued),
            group: Some("pre-sales".into()),
            listed: true,
            ..Default::default()
        };
        cache.upsert(&listed).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(row.state, ConversationState::Offered, "the offer stands");
        assert_eq!(row.group, "pre-sales", "the rest of the listing is taken");

        let withdrawn = later(
            "c1",
            pb::conversation_event::Kind::OfferWithdrawn(pb::OfferWithdrawn::default()),
        );
        cache.upsert(&info(&withdrawn)).await.unwrap();
        let row = cache.conversation("c1").await.unwrap().unwrap();
        assert_eq!(row.state, ConversationState::Queued, "events decide offers");
    }

    #[tokio::test]
    async fn offers_of_an_earlier_connection_are_void() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache.db")).await.unwrap();
        for id in ["offered", "assigned"] {
            let event = offered(pb::Conversation {
                id: id.into(),
                ..Default::default()
            });
            cache.upsert(&info(&event)).await.unwrap();
        }
        let assigned = later(
            "assigned",
            pb::conversation_event::Kind::Assigned(pb::Assigned::default()),
        );
        cache.upsert(&info(&assigned)).await.unwrap();

        cache.void_offers().await.unwrap();
        let row = cache.conversation("offered").await.unwrap().unwrap();
        assert_eq!(row.state, ConversationState::Queued);
        assert_eq!(row.offer_expires_at, None, "no countdown left");
        let row = cache.conversation("assigned").await.unwrap().unwrap();
        assert_eq!(row.state, ConversationState::Assigned, "only offers go");
    }

    #[tokio::test]
    async fn conversations_known_only_from_messages_have_no_tags_and_normal_priority() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("cache.db")).await.unwrap();
        let m = pb::Message {
            conversation_id: "c2".into(),
            seq: 1,
            id: "m1".into(),
            ..Default::default()
        };
        cache.store_message(&m, false).await.unwrap();
        let row = cache.conversation("c2").await.unwrap().unwrap();
        assert!(row.tags.is_empty(), "the column's default is an empty list");
        assert_eq!(
            row.priority,
            Priority::Normal,
            "the column's default is normal"
        );
    }

    #[test]
    fn every_protobuf_priority_maps_to_its_level() {
        let all = [
            (pb::Priority::Unspecified, Priority::Normal),
            (pb::Priority::Low, Priority::Low),
            (pb::Priority::High, Priority::High),
            (pb::Priority::Urgent, Priority::Urgent),
        ];
        for (wire, desk) in all {
            assert_eq!(priority(wire), desk, "{wire:?}");
        }
    }
}
