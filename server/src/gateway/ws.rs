//! WebSocket I/O: one task per connection, `select!` over the socket, the connection's
//! bounded outbound queue, the hub's kick and server shutdown.
//!
//! This is the only module that knows the WebSocket library; frames are binary protobuf
//! (`ClientEnvelope` in, `ServerEnvelope` out).

use std::{collections::HashMap, net::IpAddr, sync::atomic::Ordering, time::Duration};

use axum::{
    extract::{
        RawQuery, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket, close_code},
    },
    http::HeaderMap,
    response::Response,
};
use bytes::Bytes;
use futures_util::SinkExt as _;
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::{AgentAuth, VisitorAuth},
    error::{ApiError, ApiResult, ErrorBody},
    limits::{ClientIp, FrameKind, FrameLimiter, Verdict},
    openapi::{AgentErrors, ShopperErrors},
    visitor::{check_origin, site},
};
use crate::{
    sessions::{
        Caller, OpError, Page,
        hub::{Kick, Outbound},
        parse_id,
    },
    store::{SenderRole, StoredMessage, now_ms},
    wire,
};

/// A socket that cannot take a frame for this long is considered dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a goodbye may take before the socket is simply dropped.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);
/// Frames are gathered in the socket's write buffer up to this size and written together
/// once a turn of the connection loop ends (an ack and the echo of the message it acks, a
/// writer batch's messages, a resume's pages): one syscall instead of one per frame. Kept
/// small because the buffer keeps its capacity for the connection's life.
const WRITE_BATCH_BYTES: usize = 2048;
/// Most queued frames gathered into one write, so a busy queue cannot starve reading.
const WRITE_BATCH_FRAMES: usize = 64;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(agent_ws))
        .routes(routes!(shopper_ws))
}

fn configure(ws: WebSocketUpgrade, state: &AppState) -> WebSocketUpgrade {
    let l = &state.settings.limits;
    ws.read_buffer_size(l.ws_read_buffer_bytes)
        .write_buffer_size(WRITE_BATCH_BYTES)
        .max_write_buffer_size(l.max_frame_bytes.max(64 * 1024) * 4)
        .max_message_size(l.max_frame_bytes)
        .max_frame_size(l.max_frame_bytes)
}

/// The agent's socket: binary protobuf frames (`ClientEnvelope` in, `ServerEnvelope` out).
#[utoipa::path(get, path = "/ws/agent", tag = "sockets",
    params(("token" = Option<String>, Query, description = "The token, for clients that cannot set headers")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request", content_type = "text/plain", body = String),
        AgentErrors,
        (status = 426, description = "The connection cannot be upgraded", content_type = "text/plain", body = String),
    ),
    security(("bearer" = [])))]
async fn agent_ws(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: AgentAuth,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    let resume = resume_points(query.as_deref())?;
    Ok(configure(ws, &state).on_upgrade(move |socket| {
        serve(
            socket,
            state,
            Caller::Agent(auth.agent),
            auth.token_hash,
            resume,
            ip,
        )
    }))
}

/// The shopper's socket: binary protobuf frames; the page's `Origin` must be allowed.
#[utoipa::path(get, path = "/ws/shopper", tag = "sockets",
    params(("token" = Option<String>, Query, description = "The visitor token (browsers cannot set headers on a WebSocket)")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request", content_type = "text/plain", body = String),
        ShopperErrors,
        (status = 404, description = "The visitor's site is no longer configured", body = ErrorBody),
        (status = 426, description = "The connection cannot be upgraded", content_type = "text/plain", body = String),
    ),
    security(("bearer" = [])))]
async fn shopper_ws(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    VisitorAuth(visitor): VisitorAuth,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    // CORS does not cover WebSockets: the Origin check is ours to make.
    check_origin(site(&state.settings, &visitor.site_id)?, &headers)?;
    let resume = resume_points(query.as_deref())?;
    let token_hash = visitor.token_hash.clone();
    Ok(configure(ws, &state).on_upgrade(move |socket| {
        serve(
            socket,
            state,
            Caller::Shopper(visitor),
            token_hash,
            resume,
            ip,
        )
    }))
}

/// Most conversations one upgrade request may ask to resume.
const MAX_RESUME_POINTS: usize = 100;

/// The `resume=<conversation>:<last_seq>,…` of an upgrade request: conversations to replay
/// before any live frame, so that on a reconnect nothing live overtakes the replay. (A
/// `Resume` frame can only be read once the socket is open, and a live message may be
/// delivered before it arrives.)
fn resume_points(query: Option<&str>) -> Result<Vec<pb::Resume>, ApiError> {
    let Some(list) = query
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("resume="))
        .filter(|l| !l.is_empty())
    else {
        return Ok(Vec::new());
    };
    let bad = || {
        ApiError::BadRequest(format!(
            "resume must be up to {MAX_RESUME_POINTS} `<conversation id>:<last seq>` pairs \
             separated by commas"
        ))
    };
    let points = list
        .split(',')
        .map(|point| {
            let (conv, seq) = point.split_once(':').ok_or_else(bad)?;
            let conv = Uuid::parse_str(conv).map_err(|_| bad())?;
            Ok(pb::Resume {
                conversation_id: conv.to_string(),
                last_seq: seq.parse().map_err(|_| bad())?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    if points.len() > MAX_RESUME_POINTS {
        return Err(bad());
    }
    Ok(points)
}

/// What this connection has delivered per conversation, so that each message goes out
/// exactly once and, once the client said where it stands, in seq order.
///
/// Live messages need not arrive in seq order: in cluster mode two nodes store into one
/// conversation and their frames reach this node by different paths, and a node that dies
/// takes frames it had not yet published with it. So a live message that skips seqs is
/// held back while the skipped ones are read from the database (they are committed: a
/// conversation's seqs commit in order), and a replay skips exactly what went out live.
#[derive(Default)]
struct Delivered {
    /// Every seq up to here went out on this socket, or the client already had it. Set by
    /// a resume, which says where the client stands; before one, this socket cannot know
    /// what the client holds, so live messages go out as they come (the client fills gaps).
    upto: Option<i64>,
    /// Seqs above `upto` delivered live, the most recent [`LIVE_REMEMBERED`].
    live: std::collections::BTreeSet<i64>,
}

/// What to do with a live message.
#[derive(Debug, PartialEq)]
enum Live {
    /// Already delivered.
    Skip,
    Deliver,
    /// Seqs after this one are missing: send them from the database first.
    FillAfter(i64),
}

/// How long a failed send keeps later sends on its socket from being stored (a client that
/// gave the failed message up must not be stuck; widgets resend within seconds).
const SEND_FENCE: Duration = Duration::from_secs(10);

/// Live seqs remembered per conversation and connection. Older ones a client asks to be
/// replayed come again (clients keep messages by seq, so that only costs bytes).
const LIVE_REMEMBERED: usize = 64;

impl Delivered {
    /// What to do with a live message with `seq`; remembers it if it is to be delivered.
    fn live(&mut self, seq: i64) -> Live {
        if seq <= self.upto.unwrap_or(0) || self.live.contains(&seq) {
            return Live::Skip;
        }
        match self.upto {
            Some(upto) if seq > upto + 1 => Live::FillAfter(upto),
            _ => {
                self.remember(seq);
                Live::Deliver
            }
        }
    }

    /// Remembers a live delivery (one that went out without filling the gap before it).
    fn remember(&mut self, seq: i64) {
        match &mut self.upto {
            // The next one (the usual case): no set to keep, and a run waiting there closes.
            Some(upto) if seq == *upto + 1 => {
                *upto = seq;
                while self.live.remove(&(*upto + 1)) {
                    *upto += 1;
                }
            }
            _ => {
                self.live.insert(seq);
                if self.live.len() > LIVE_REMEMBERED {
                    self.live.pop_first();
                }
            }
        }
    }

    /// Whether a stored message with `seq`, read in order from the database, is new here;
    /// everything up to it is delivered now.
    fn replayed(&mut self, seq: i64) -> bool {
        let new = seq > self.upto.unwrap_or(0) && !self.live.contains(&seq);
        self.caught_up(seq);
        new
    }

    /// Everything up to `seq` went out or is not the client's to see (a private note).
    fn caught_up(&mut self, seq: i64) {
        let upto = self.upto.unwrap_or(0).max(seq);
        self.upto = Some(upto);
        self.live.retain(|s| *s > upto);
    }
}

struct Conn {
    socket: WebSocket,
    state: AppState,
    caller: Caller,
    /// Where the client connects from: a shopper's new conversations count against it.
    ip: IpAddr,
    conn_id: u64,
    delivered: HashMap<Uuid, Delivered>,
    /// Per frame kind, and the shopper's quota over all its sockets.
    limits: Box<FrameLimiter>,
    /// Notified when the hub dropped this connection, with why; interrupts a blocked write.
    kicked: std::sync::Arc<Kick>,
    /// The message whose store failed and when, until the client sends it again (see
    /// `send_message`).
    failed_send: Option<(String, std::time::Instant)>,
}

/// Sends one goodbye on a socket that never entered the connection loop.
async fn refuse(mut socket: WebSocket, code: pb::GoAwayCode, reason: String, retry_after_ms: u32) {
    let frame = wire::encode(Out::GoAway(pb::GoAway {
        reason,
        retry_after_ms,
        code: code as u32,
    }));
    let _ = tokio::time::timeout(GOODBYE_TIMEOUT, socket.send(Message::Binary(frame))).await;
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    caller: Caller,
    token_hash: String,
    resume: Vec<pb::Resume>,
    ip: IpAddr,
) {
    // Every await but the idle `select!` below is boxed: a task is as large as its largest
    // await point, and thousands of idle connections should not carry the size of a write.
    let shopper = match &caller {
        Caller::Shopper(v) => Some(v.id),
        Caller::Agent(_) => None,
    };
    let Some(_slot) = state.limits.open_socket(&token_hash, shopper.is_some()) else {
        let (reason, retry) = go_away_reason(pb::GoAwayCode::TooManyConnections);
        let code = pb::GoAwayCode::TooManyConnections;
        return Box::pin(refuse(socket, code, reason.into(), retry)).await;
    };
    let mut reg = match Box::pin(state.sessions.connect(&caller, &token_hash)).await {
        Ok(reg) => reg,
        Err(e) => {
            // Revoked between the upgrade and now (say so: reconnecting will not help), or
            // the database failed (retry).
            let (code, retry_after_ms) = match e.code {
                pb::ErrorCode::Unauthenticated => (pb::GoAwayCode::SignedOut, 0),
                pb::ErrorCode::Forbidden => (pb::GoAwayCode::VisitorBlocked, 0),
                _ => (pb::GoAwayCode::ShuttingDown, 1000),
            };
            return Box::pin(refuse(socket, code, e.message, retry_after_ms)).await;
        }
    };
    drop(token_hash);
    let limits = Box::new(FrameLimiter::new(
        &state.settings.limits,
        shopper.map(|id| (state.limits.clone(), id)),
    ));
    let mut shutdown = state.shutdown.clone();
    let mut conn = Conn {
        socket,
        state,
        caller,
        ip,
        conn_id: reg.id,
        delivered: HashMap::new(),
        limits,
        kicked: reg.kicked.clone(),
        failed_send: None,
    };
    let hello = Box::pin(hello(&conn.state, &conn.caller)).await;
    let mut open = Box::pin(conn.send(hello)).await.is_ok();
    // Replays asked for in the upgrade run before the loop takes its first live frame:
    // those wait in the queue, and whatever the replay already sent is skipped there.
    for r in resume {
        open = open && Box::pin(conn.resume(r)).await;
    }
    while open && Box::pin(conn.flush_with_queued(&mut reg.rx)).await {
        tokio::select! {
            biased;
            _ = conn.kicked.notified() => {
                let code = conn.kicked.code();
                Box::pin(conn.go_away(code)).await;
                break;
            }
            _ = shutdown.changed() => {
                Box::pin(conn.go_away(pb::GoAwayCode::ShuttingDown)).await;
                break;
            }
            out = reg.rx.recv() => match out {
                Some(out) => open = Box::pin(conn.deliver(out)).await,
                None => break,
            },
            incoming = conn.socket.recv() => {
                reg.last_seen.store(now_ms(), Ordering::Relaxed);
                open = match incoming {
                    Some(Ok(Message::Binary(frame))) => Box::pin(conn.handle(frame)).await,
                    Some(Ok(Message::Text(_))) => Box::pin(conn.reply_error(pb::ErrorCode::MalformedFrame, "text frames are not accepted; send binary protobuf ClientEnvelope", "")).await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => true,
                    Some(Ok(Message::Close(_))) | None => false,
                    Some(Err(e)) => {
                        Box::pin(conn.protocol_error(e)).await;
                        false
                    }
                };
            }
        }
    }
    drop(reg);
    Box::pin(conn.state.sessions.disconnect(&conn.caller)).await;
}

/// The first frame: who the client is, how often to heartbeat, the shopper's open chat.
async fn hello(state: &AppState, caller: &Caller) -> Bytes {
    let (you, open) = match caller {
        Caller::Shopper(v) => {
            let open = match state.sessions.open_conversation_of(v.id).await {
                Ok(Some(c)) => c.to_string(),
                _ => String::new(),
            };
            (
                wire::participant(SenderRole::Shopper, v.id, &v.display_name),
                open,
            )
        }
        Caller::Agent(a) => (
            wire::participant(SenderRole::Agent, a.id, &a.name),
            String::new(),
        ),
    };
    let l = &state.settings.limits;
    wire::encode(Out::Hello(pb::Hello {
        you: Some(you),
        heartbeat_interval_ms: (l.heartbeat_secs * 1000) as u32,
        server_time_ms: now_ms(),
        open_conversation_id: open,
        max_frame_bytes: l.max_frame_bytes as u32,
    }))
}

/// What a goodbye says, and how long the client should wait before reconnecting.
fn go_away_reason(code: pb::GoAwayCode) -> (&'static str, u32) {
    use pb::GoAwayCode as C;
    match code {
        C::ShuttingDown | C::Unspecified => ("server shutting down; reconnect and resume", 1000),
        C::TooSlow => ("connection too slow or silent; reconnect and resume", 0),
        C::AccountChanged => ("your account changed; reconnect to continue", 0),
        C::SignedOut => ("signed out; sign in again", 0),
        C::AccountDisabled => ("this account was disabled", 0),
        C::VisitorBlocked => ("this visitor was blocked by the shop's support team", 0),
        C::RateLimited => (
            "too many frames after being told to slow down; reconnect later and send less",
            10_000,
        ),
        C::TooManyConnections => (
            "this sign-in already has as many open connections as allowed; close one first",
            0,
        ),
    }
}

/// Runs a socket write; fails if the peer does not take it in time or the hub cut us off.
async fn guarded(
    kicked: &Kick,
    write: impl Future<Output = Result<(), axum::Error>>,
) -> Result<(), ()> {
    tokio::select! {
        sent = tokio::time::timeout(WRITE_TIMEOUT, write) => match sent {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        },
        _ = kicked.notified() => Err(()),
    }
}

impl Conn {
    /// Queues one frame in the write buffer; the loop flushes at the end of its turn.
    async fn send(&mut self, frame: Bytes) -> Result<(), ()> {
        guarded(&self.kicked, self.socket.feed(Message::Binary(frame))).await
    }

    /// Adds what the hub has queued for us (up to a limit) and writes it all out.
    async fn flush_with_queued(
        &mut self,
        rx: &mut tokio::sync::mpsc::Receiver<std::sync::Arc<Outbound>>,
    ) -> bool {
        for _ in 0..WRITE_BATCH_FRAMES {
            let Ok(out) = rx.try_recv() else { break };
            if !self.deliver(out).await {
                return false;
            }
        }
        guarded(&self.kicked, self.socket.flush()).await.is_ok()
    }

    async fn reply_error(
        &mut self,
        code: pb::ErrorCode,
        message: &str,
        client_msg_id: &str,
    ) -> bool {
        self.send(wire::error(code, message, client_msg_id))
            .await
            .is_ok()
    }

    /// Says goodbye with why, best effort: a peer that is not reading gets a short grace
    /// only.
    async fn go_away(&mut self, code: pb::GoAwayCode) {
        let (reason, retry_after_ms) = go_away_reason(code);
        let frame = wire::encode(Out::GoAway(pb::GoAway {
            reason: reason.into(),
            retry_after_ms,
            code: code as u32,
        }));
        let close = CloseFrame {
            code: close_code::AWAY,
            reason: "go away".into(),
        };
        let _ = tokio::time::timeout(GOODBYE_TIMEOUT, async {
            self.socket.send(Message::Binary(frame)).await?;
            self.socket.send(Message::Close(Some(close))).await
        })
        .await;
    }

    /// After a goodbye to a flooding peer, discards what it still sends until its Close, for
    /// a moment at most: closing with its frames unread would reset the connection, which
    /// can destroy the goodbye before the peer has read it.
    async fn linger(&mut self) {
        let _ = tokio::time::timeout(GOODBYE_TIMEOUT, async {
            while let Some(Ok(m)) = self.socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    /// The socket broke the protocol (oversize frame, bad UTF-8 in a text frame, garbage):
    /// say why if we still can, then close.
    async fn protocol_error(&mut self, e: axum::Error) {
        let text = e.to_string();
        tracing::debug!(error = %text, "closing socket after protocol error");
        let (code, close) = if text.contains("too long")
            || text.contains("too big")
            || text.contains("Space limit")
        {
            (pb::ErrorCode::TooLarge, close_code::SIZE)
        } else {
            (pb::ErrorCode::MalformedFrame, close_code::PROTOCOL)
        };
        let _ = self.send(wire::error(code, &text, "")).await;
        let frame = CloseFrame {
            code: close,
            reason: "protocol error".into(),
        };
        let _ = tokio::time::timeout(WRITE_TIMEOUT, self.socket.send(Message::Close(Some(frame))))
            .await;
    }

    /// Sends a queued frame unless this connection already delivered that message, after
    /// the messages before it that this connection missed.
    async fn deliver(&mut self, out: std::sync::Arc<Outbound>) -> bool {
        // A supervisor set this agent's status: the node holding its socket keeps it.
        if let Caller::Agent(a) = &self.caller
            && let Some(p) = wire::presence_of(&out.frame)
            && p.agent_id == a.id.to_string()
        {
            self.state.sessions.status_seen(a.id, p.status).await;
        }
        if let Some((conv, seq)) = out.seq {
            match self.delivered.entry(conv).or_default().live(seq) {
                Live::Skip => return true,
                Live::Deliver => {}
                Live::FillAfter(upto) => {
                    if !self.fill(conv, upto, seq).await {
                        return false;
                    }
                }
            }
        }
        self.send(out.frame.clone()).await.is_ok()
    }

    /// The messages after `after` in `conv` this connection's client may see, one page
    /// (the most a page may hold), oldest first.
    async fn page_after(
        &mut self,
        conv: Uuid,
        after: i64,
    ) -> Result<(Vec<StoredMessage>, bool), OpError> {
        let size = self.state.settings.limits.history_page_max;
        let page = self
            .state
            .sessions
            .history(&self.caller, conv, Page::After(after), size)
            .await?;
        let full = page.len() == size as usize;
        Ok((page, full))
    }

    /// Sends the stored messages between `upto` and the live `seq` this connection has not
    /// delivered: one on its way from another node (it is skipped when it comes), or lost
    /// with a node that died before publishing it. If the database cannot say, `seq` goes
    /// out anyway: the client sees the gap and resumes.
    async fn fill(&mut self, conv: Uuid, upto: i64, seq: i64) -> bool {
        let mut after = upto;
        while after < seq - 1 {
            let (page, full) = match self.page_after(conv, after).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::debug!(%conv, error = %e.message, "filling a gap before a live message");
                    self.delivered.entry(conv).or_default().remember(seq);
                    return true;
                }
            };
            let more = full && page.last().is_some_and(|m| m.seq < seq);
            for m in page.iter().take_while(|m| m.seq < seq) {
                after = m.seq;
                if self.delivered.entry(conv).or_default().replayed(m.seq) {
                    metrics::counter!("kefu_ws_gap_messages_total").increment(1);
                    if self.send(wire::message_frame(m)).await.is_err() {
                        return false;
                    }
                }
            }
            if !more {
                break;
            }
        }
        self.delivered.entry(conv).or_default().caught_up(seq);
        true
    }

    /// Handles one client frame; returns whether the connection stays open.
    async fn handle(&mut self, frame: Bytes) -> bool {
        let decoded = wire::decode_request(frame);
        let (class, client_msg_id) = match &decoded {
            Ok(In::Send(s)) => (FrameKind::Message, s.client_msg_id.as_str()),
            Ok(In::Typing(_)) => (FrameKind::Typing, ""),
            Ok(In::Read(_)) => (FrameKind::Read, ""),
            Ok(In::Heartbeat(_)) => (FrameKind::Heartbeat, ""),
            _ => (FrameKind::Request, ""),
        };
        match self.limits.admit(class) {
            Verdict::Handle => {}
            Verdict::Drop => return true,
            Verdict::Refuse => {
                let id = client_msg_id.to_string();
                let why = match class {
                    FrameKind::Message => "too many messages; slow down and resend",
                    _ => "too many frames of this kind; slow down",
                };
                return self.reply_error(pb::ErrorCode::RateLimited, why, &id).await;
            }
            Verdict::Close => {
                self.go_away(pb::GoAwayCode::RateLimited).await;
                self.linger().await;
                return false;
            }
        }
        let kind = match decoded {
            Ok(kind) => kind,
            Err(e) => return self.reply_error(e.code, &e.message, "").await,
        };
        let result = match kind {
            In::Send(send) => return self.send_message(send).await,
            In::Resume(r) => return self.resume(r).await,
            In::Heartbeat(h) => {
                return self
                    .send(wire::encode(Out::Heartbeat(pb::Heartbeat {
                        at_ms: h.at_ms,
                    })))
                    .await
                    .is_ok();
            }
            In::Typing(t) => {
                self.state
                    .sessions
                    .typing(&self.caller, self.conn_id, t)
                    .await
            }
            In::Read(r) => {
                self.state
                    .sessions
                    .read(&self.caller, self.conn_id, r)
                    .await
            }
            In::Close(c) => match parse_id(&c.conversation_id) {
                Ok(id) => self.state.sessions.close(Some(&self.caller), id).await,
                Err(e) => Err(e),
            },
            other => self.agent_request(other).await,
        };
        match result {
            Ok(()) => true,
            Err(e) => self.reply_error(e.code, &e.message, "").await,
        }
    }

    async fn agent_request(&mut self, kind: In) -> Result<(), OpError> {
        let Caller::Agent(agent) = &self.caller else {
            return Err(OpError::new(
                pb::ErrorCode::Forbidden,
                "only agents may do this",
            ));
        };
        let sessions = &self.state.sessions;
        match kind {
            In::SetStatus(s) => {
                let status = pb::AgentStatus::try_from(s.status)
                    .ok()
                    .filter(|s| *s != pb::AgentStatus::Unspecified)
                    .ok_or_else(|| {
                        OpError::new(pb::ErrorCode::InvalidArgument, "unknown status")
                    })?;
                sessions.set_status(agent.id, status).await;
                Ok(())
            }
            In::Accept(a) => {
                sessions
                    .accept(agent.id, parse_id(&a.conversation_id)?)
                    .await
            }
            In::Decline(d) => {
                sessions
                    .decline(agent.id, parse_id(&d.conversation_id)?)
                    .await;
                Ok(())
            }
            In::Transfer(t) => {
                let to_agent = match t.to_agent_id.as_str() {
                    "" => None,
                    s => Some(Uuid::parse_str(s).map_err(|_| {
                        OpError::new(pb::ErrorCode::InvalidArgument, "to_agent_id is not a UUID")
                    })?),
                };
                let to_group = Some(t.to_group).filter(|g| !g.is_empty());
                sessions
                    .transfer(
                        agent,
                        parse_id(&t.conversation_id)?,
                        to_agent,
                        to_group,
                        &t.note,
                    )
                    .await
            }
            _ => Err(OpError::new(
                pb::ErrorCode::UnknownType,
                "unknown request type",
            )),
        }
    }

    async fn send_message(&mut self, send: pb::SendMessage) -> bool {
        let id = send.client_msg_id.clone();
        // Order holds per socket: after a message failed to store, a later one already on
        // its way (the client pipelines) must not be stored before the failed one is sent
        // again, or the resend would come after it. So until the client resends the failed
        // message (or gave it up: `SEND_FENCE`), every other send here is refused the same way.
        match &self.failed_send {
            Some((failed, at)) if *failed != id && at.elapsed() < SEND_FENCE => {
                let why = "an earlier message was not stored; send it again first";
                return self.reply_error(pb::ErrorCode::Internal, why, &id).await;
            }
            Some(_) => self.failed_send = None,
            None => {}
        }
        let limits = &self.state.limits;
        let admit = || match &self.caller {
            Caller::Shopper(v) => limits.open_conversation(&v.site_id, v.id, self.ip),
            Caller::Agent(_) => Ok(()),
        };
        match self.state.sessions.send(&self.caller, send, &admit).await {
            Ok(ack) => self.send(wire::encode(Out::Ack(ack))).await.is_ok(),
            Err(e) => {
                if e.code == pb::ErrorCode::Internal {
                    self.failed_send = Some((id.clone(), std::time::Instant::now()));
                }
                self.reply_error(e.code, &e.message, &id).await
            }
        }
    }

    /// Replays what the client missed, page by page, skipping what this connection already
    /// delivered, then marks the end with `ResumeDone`.
    async fn resume(&mut self, r: pb::Resume) -> bool {
        let conv = match parse_id(&r.conversation_id) {
            Ok(c) => c,
            Err(e) => return self.reply_error(e.code, &e.message, "").await,
        };
        // The position reported at the end never exceeds what the server has: a client that
        // claims more than exists is told the real last seq.
        let known = match self
            .state
            .sessions
            .authorize(&self.caller, conv, false)
            .await
        {
            Ok(c) => c.last_seq,
            Err(e) => return self.reply_error(e.code, &e.message, "").await,
        };
        let mut after = i64::try_from(r.last_seq).unwrap_or(i64::MAX).min(known);
        loop {
            let (page, full) = match self.page_after(conv, after).await {
                Ok(page) => page,
                Err(e) => return self.reply_error(e.code, &e.message, "").await,
            };
            for m in &page {
                after = m.seq;
                if !self.delivered.entry(conv).or_default().replayed(m.seq) {
                    continue;
                }
                if self.send(wire::message_frame(m)).await.is_err() {
                    return false;
                }
            }
            if !full {
                // The client has everything up to here now: live messages follow in order.
                self.delivered.entry(conv).or_default().caught_up(after);
                return self.resume_done(conv, after).await;
            }
        }
    }

    async fn resume_done(&mut self, conv: Uuid, last_seq: i64) -> bool {
        let done = pb::ResumeDone {
            conversation_id: conv.to_string(),
            last_seq: last_seq.max(0) as u64,
        };
        self.send(wire::encode(Out::ResumeDone(done))).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::{Delivered, Live};

    #[test]
    fn before_a_resume_live_frames_go_out_as_they_come_each_once() {
        let mut d = Delivered::default();
        // Two nodes' frames cross: 11 before 10; 12 is lost on the way.
        assert_eq!(d.live(11), Live::Deliver);
        assert_eq!(d.live(10), Live::Deliver);
        assert_eq!(
            d.live(11),
            Live::Skip,
            "a repeated live frame is not delivered twice"
        );
        assert_eq!(d.live(13), Live::Deliver);
        // The client sees the gap at 12 and resumes from 9.
        let replayed: Vec<i64> = (10..=13).filter(|s| d.replayed(*s)).collect();
        assert_eq!(replayed, vec![12], "only the missing one comes again");
        assert_eq!(
            d.live(12),
            Live::Skip,
            "a late live copy of a replayed message"
        );
        assert_eq!(d.live(14), Live::Deliver);
    }

    #[test]
    fn after_a_resume_a_live_frame_that_skips_seqs_waits_for_them() {
        let mut d = Delivered::default();
        d.caught_up(9); // the resume replayed up to 9
        assert_eq!(d.live(10), Live::Deliver);
        // 11 is still on its way from another node when 12 comes.
        assert_eq!(d.live(12), Live::FillAfter(10));
        assert!(d.replayed(11), "the fill sends 11 from the database");
        d.caught_up(12); // then 12 goes out
        assert_eq!(d.live(11), Live::Skip, "the late live 11 is not sent twice");
        assert_eq!(d.live(12), Live::Skip);
        assert_eq!(d.live(13), Live::Deliver);
    }

    #[test]
    fn a_failed_fill_delivers_and_later_frames_try_again() {
        let mut d = Delivered::default();
        d.caught_up(3);
        assert_eq!(d.live(5), Live::FillAfter(3));
        d.remember(5); // the database did not answer: 5 went out alone
        assert_eq!(d.live(5), Live::Skip);
        assert_eq!(d.live(6), Live::FillAfter(3), "4 is still missing");
        // 4 arrives live after all: the run 4, 5 closes.
        let mut d = Delivered::default();
        d.caught_up(3);
        d.remember(5);
        assert_eq!(d.live(4), Live::Deliver);
        assert_eq!(d.live(6), Live::Deliver, "4 and 5 are behind, 6 is next");
    }
}
