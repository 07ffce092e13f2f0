//! WebSocket I/O: one task per connection, `select!` over the socket, the connection's
//! bounded outbound queue, the hub's kick and server shutdown.
//!
//! This is the only module that knows the WebSocket library; frames are binary protobuf
//! (`ClientEnvelope` in, `ServerEnvelope` out).

use std::{collections::HashMap, num::NonZeroU32, sync::atomic::Ordering, time::Duration};

use axum::{
    Router,
    extract::{
        State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket, close_code},
    },
    http::HeaderMap,
    response::Response,
    routing::get,
};
use bytes::Bytes;
use futures_util::SinkExt as _;
use governor::{Quota, RateLimiter};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use uuid::Uuid;

use super::{
    AppState,
    auth::{AgentAuth, VisitorAuth},
    error::ApiResult,
    visitor::{check_origin, site},
};
use crate::{
    sessions::{
        Caller, OpError, Page,
        hub::{Kick, Outbound},
        parse_id,
    },
    store::{SenderRole, now_ms},
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

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws/agent", get(agent_ws))
        .route("/ws/shopper", get(shopper_ws))
}

fn configure(ws: WebSocketUpgrade, state: &AppState) -> WebSocketUpgrade {
    let l = &state.settings.limits;
    ws.read_buffer_size(l.ws_read_buffer_bytes)
        .write_buffer_size(WRITE_BATCH_BYTES)
        .max_write_buffer_size(l.max_frame_bytes.max(64 * 1024) * 4)
        .max_message_size(l.max_frame_bytes)
        .max_frame_size(l.max_frame_bytes)
}

async fn agent_ws(
    State(state): State<AppState>,
    auth: AgentAuth,
    ws: WebSocketUpgrade,
) -> Response {
    configure(ws, &state)
        .on_upgrade(move |socket| serve(socket, state, Caller::Agent(auth.agent), auth.token_hash))
}

async fn shopper_ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    VisitorAuth(visitor): VisitorAuth,
    ws: WebSocketUpgrade,
) -> ApiResult<Response> {
    // CORS does not cover WebSockets: the Origin check is ours to make.
    check_origin(site(&state.settings, &visitor.site_id)?, &headers)?;
    let token_hash = visitor.token_hash.clone();
    Ok(configure(ws, &state)
        .on_upgrade(move |socket| serve(socket, state, Caller::Shopper(visitor), token_hash)))
}

/// What this connection has delivered per conversation, so a resume and live traffic
/// together deliver each message exactly once.
#[derive(Default)]
struct Delivered {
    /// Highest seq sent by a resume replay.
    resumed_to: i64,
    /// First seq delivered live; everything from it on arrives live, in order.
    first_live: Option<i64>,
}

struct Conn {
    socket: WebSocket,
    state: AppState,
    caller: Caller,
    conn_id: u64,
    delivered: HashMap<Uuid, Delivered>,
    limiter: governor::DefaultDirectRateLimiter,
    /// Notified when the hub dropped this connection, with why; interrupts a blocked write.
    kicked: std::sync::Arc<Kick>,
}

async fn serve(mut socket: WebSocket, state: AppState, caller: Caller, token_hash: String) {
    // Every await but the idle `select!` below is boxed: a task is as large as its largest
    // await point, and thousands of idle connections should not carry the size of a write.
    let mut reg = match Box::pin(state.sessions.connect(&caller, &token_hash)).await {
        Ok(reg) => reg,
        Err(e) => {
            // Revoked between the upgrade and now (say so: reconnecting will not help), or
            // the database failed (retry).
            let (code, retry_after_ms) = match e.code {
                pb::ErrorCode::Unauthenticated => (pb::GoAwayCode::SignedOut, 0),
                _ => (pb::GoAwayCode::ShuttingDown, 1000),
            };
            let frame = wire::encode(Out::GoAway(pb::GoAway {
                reason: e.message,
                retry_after_ms,
                code: code as u32,
            }));
            let _ = Box::pin(tokio::time::timeout(
                GOODBYE_TIMEOUT,
                socket.send(Message::Binary(frame)),
            ))
            .await;
            return;
        }
    };
    drop(token_hash);
    let l = &state.settings.limits;
    let quota =
        Quota::per_second(NonZeroU32::new(l.messages_per_second).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(l.messages_burst).unwrap_or(NonZeroU32::MIN));
    let mut shutdown = state.shutdown.clone();
    let mut conn = Conn {
        socket,
        state,
        caller,
        conn_id: reg.id,
        delivered: HashMap::new(),
        limiter: RateLimiter::direct(quota),
        kicked: reg.kicked.clone(),
    };
    let hello = Box::pin(hello(&conn.state, &conn.caller)).await;
    let mut open = Box::pin(conn.send(hello)).await.is_ok();
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

    /// Sends a queued frame unless this connection already delivered that message.
    async fn deliver(&mut self, out: std::sync::Arc<Outbound>) -> bool {
        if let Some((conv, seq)) = out.seq {
            let d = self.delivered.entry(conv).or_default();
            if seq <= d.resumed_to {
                return true;
            }
            d.first_live.get_or_insert(seq);
        }
        self.send(out.frame.clone()).await.is_ok()
    }

    /// Handles one client frame; returns whether the connection stays open.
    async fn handle(&mut self, frame: Bytes) -> bool {
        let kind = match wire::decode_request(frame) {
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
        if self.limiter.check().is_err() {
            metrics::counter!("kefu_rate_limited_total").increment(1);
            return self
                .reply_error(
                    pb::ErrorCode::RateLimited,
                    "too many messages; slow down and resend",
                    &id,
                )
                .await;
        }
        match self.state.sessions.send(&self.caller, send).await {
            Ok(ack) => self.send(wire::encode(Out::Ack(ack))).await.is_ok(),
            Err(e) => self.reply_error(e.code, &e.message, &id).await,
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
        let page_size = self.state.settings.limits.history_page_max;
        let mut after = i64::try_from(r.last_seq).unwrap_or(i64::MAX).min(known);
        loop {
            let page = match self
                .state
                .sessions
                .history(&self.caller, conv, Page::After(after), page_size)
                .await
            {
                Ok(p) => p,
                Err(e) => return self.reply_error(e.code, &e.message, "").await,
            };
            let full = page.len() == page_size as usize;
            for m in &page {
                after = m.seq;
                let d = self.delivered.entry(conv).or_default();
                if m.seq <= d.resumed_to {
                    continue;
                }
                if d.first_live.is_some_and(|f| m.seq >= f) {
                    return self.resume_done(conv, after).await;
                }
                d.resumed_to = m.seq;
                if self.send(wire::message_frame(m)).await.is_err() {
                    return false;
                }
            }
            if !full {
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
