//! One shopper's or agent's socket, as a task that outlives reconnects: it connects (from one
//! of the worker's source addresses), resumes its conversations, resends what was not acked,
//! and records every ack and delivery in the worker's `State`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, OnceLock, atomic::Ordering},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, conversation_event::Kind as Ev, server_envelope::Kind as Out};
use prost::Message as _;
use tokio::{net::TcpSocket, sync::mpsc::UnboundedReceiver};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, protocol::WebSocketConfig},
};

use super::{ORIGIN, Shared, State};
use crate::{
    clock::now_ns,
    msg,
    plan::{AgentLogin, Heard},
    track::{Dir, key},
};

type Ws = WebSocketStream<tokio::net::TcpStream>;

pub enum Who {
    Shopper { token: String },
    Agent(AgentLogin),
}

/// What the worker asks of a socket task.
pub enum Order {
    /// Shopper: open a conversation with a first message.
    Open { intended: u64 },
    /// Shopper: send the next message of its conversation.
    Send { intended: u64 },
    /// Shopper: drop the socket and come back (a page reload).
    Reconnect,
    /// Stop (or resume) reading and writing, like a frozen client.
    Stall(bool),
}

/// How a session on one socket ended.
enum End {
    Reconnect,
    Dropped(String),
    Gone,
}

/// Most resume points an upgrade request carries (the server takes up to 100).
const RESUME_IN_URL: usize = 100;

struct Conn {
    who: Who,
    shared: Arc<Shared>,
    /// Conversations followed → highest seq seen, to resume from after a reconnect.
    convs: HashMap<String, u64>,
    /// A shopper's opening message not acked yet: its intended send time.
    opening: Option<u64>,
    conversation: Arc<OnceLock<String>>,
    stalled: bool,
    /// Once stalled, this socket's latencies are kept apart from everyone else's.
    was_stalled: bool,
}

pub async fn run(
    index: usize,
    who: Who,
    shared: Arc<Shared>,
    mut orders: UnboundedReceiver<Order>,
    conversation: Arc<OnceLock<String>>,
) {
    let source = shared.sources[index % shared.sources.len()];
    // Which node to try: this socket's own first, the next one after each failure.
    let mut node = index;
    let mut lost_at: Option<std::time::Instant> = None;
    let mut c = Conn {
        who,
        shared,
        convs: HashMap::new(),
        opening: None,
        conversation,
        stalled: false,
        was_stalled: false,
    };
    loop {
        let permit = c.shared.connecting.acquire().await.expect("never closed");
        let server = c.shared.servers[node % c.shared.servers.len()];
        let connected = c.connect(SocketAddr::new(source.into(), 0), server).await;
        drop(permit);
        let (ws, heartbeat) = match connected {
            Ok(ok) => ok,
            Err(e) => {
                c.state().error(format!("connect: {e:#}"));
                node += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        {
            let mut st = c.state();
            st.status.connected += 1;
            if let Some(at) = lost_at.take() {
                let gap = at.elapsed().as_millis() as u64;
                st.status.longest_gap_ms = st.status.longest_gap_ms.max(gap);
            }
        }
        let end = c.session(ws, heartbeat, index, &mut orders).await;
        let mut st = c.state();
        st.status.connected -= 1;
        match end {
            End::Gone => return,
            End::Reconnect => st.status.reconnects += 1,
            End::Dropped(why) => {
                lost_at = Some(std::time::Instant::now());
                node += 1;
                // The server may cut a socket (a stalled reader, a restart): not a protocol
                // error, but kept for the log.
                st.status.reconnects += 1;
                st.status.dropped += 1;
                st.sample(format!("dropped: {why}"));
            }
        }
    }
}

impl Conn {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("state lock")
    }

    fn dir_out(&self) -> Dir {
        match self.who {
            Who::Shopper { .. } => Dir::ToAgent,
            Who::Agent(_) => Dir::ToShopper,
        }
    }

    /// Connects and reads the Hello; returns the socket and the heartbeat period.
    async fn connect(
        &self,
        source: SocketAddr,
        server: SocketAddr,
    ) -> anyhow::Result<(Ws, Duration)> {
        let sock = TcpSocket::new_v4()?;
        sock.bind(source)?;
        let stream = sock.connect(server).await?;
        stream.set_nodelay(true)?;
        let (path, token) = match &self.who {
            Who::Shopper { token } => ("shopper", token),
            Who::Agent(a) => ("agent", &a.token),
        };
        // As the desk and the widget do: the resume points ride in the upgrade request, so
        // the replay comes before any live frame and the server keeps each conversation in
        // seq order from there (the rest go as frames after the Hello).
        let points: Vec<String> = self
            .resume_points()
            .take(RESUME_IN_URL)
            .map(|(c, seq)| format!("{c}:{seq}"))
            .collect();
        let resume = match points.is_empty() {
            true => String::new(),
            false => format!("&resume={}", points.join(",")),
        };
        let mut req =
            format!("ws://{server}/ws/{path}?token={token}{resume}").into_client_request()?;
        req.headers_mut().insert("origin", ORIGIN.parse()?);
        // Small buffers: one worker holds thousands of sockets.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await?;
        let hello = loop {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => match pb::ServerEnvelope::decode(b)?.kind {
                    Some(Out::Hello(h)) => break h,
                    other => anyhow::bail!("expected Hello first, got {other:?}"),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => anyhow::bail!("expected Hello first, got {other:?}"),
            }
        };
        let heartbeat = Duration::from_millis(u64::from(hello.heartbeat_interval_ms).max(2000) / 2);
        Ok((ws, heartbeat))
    }

    async fn session(
        &mut self,
        mut ws: Ws,
        heartbeat: Duration,
        index: usize,
        orders: &mut UnboundedReceiver<Order>,
    ) -> End {
        // Catch up, then resend what the last socket left unacked (same ids: the server
        // answers a resend with the original ack and stores nothing twice).
        let mut frames: Vec<Vec<u8>> = self
            .resume_points()
            .skip(RESUME_IN_URL)
            .map(|(c, seq)| msg::resume(c, seq))
            .collect();
        if let Some(t) = self.opening {
            frames.push(msg::send("", msg::OPENING.into(), 1, t));
        }
        {
            let st = self.state();
            for conv in self.convs.keys() {
                if let Some(o) = st.outboxes.get(&key(conv, self.dir_out())) {
                    frames.extend(
                        o.unacked()
                            .map(|(k, t)| msg::send(conv, msg::client_msg_id(conv, k), k, t)),
                    );
                }
            }
        }
        for f in frames {
            if let Err(e) = ws.send(Message::Binary(f.into())).await {
                return End::Dropped(e.to_string());
            }
        }
        // Spread heartbeats over the period so thousands of sockets do not beat together.
        let phase = heartbeat.mul_f64((index % 97) as f64 / 97.0);
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + phase, heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let frame = tokio::select! {
                order = orders.recv() => match order {
                    None => return End::Gone,
                    Some(Order::Reconnect) => {
                        let _ = ws.close(None).await;
                        return End::Reconnect;
                    }
                    Some(Order::Stall(stalled)) => {
                        self.stalled = stalled;
                        self.was_stalled |= stalled;
                        continue;
                    }
                    Some(Order::Open { intended }) => {
                        self.opening = Some(intended);
                        self.state().status.sent += 1;
                        Some(msg::send("", msg::OPENING.into(), 1, intended))
                    }
                    Some(Order::Send { intended }) => self.next_message(intended),
                },
                incoming = ws.next(), if !self.stalled => match incoming {
                    Some(Ok(Message::Binary(b))) => match pb::ServerEnvelope::decode(b) {
                        Ok(pb::ServerEnvelope { kind: Some(Out::GoAway(g)) }) => {
                            tokio::time::sleep(Duration::from_millis(g.retry_after_ms.into())).await;
                            return End::Dropped(format!("go away: {}", g.reason));
                        }
                        Ok(pb::ServerEnvelope { kind: Some(kind) }) => self.on_frame(kind),
                        Ok(_) => None,
                        Err(e) => return End::Dropped(format!("undecodable frame: {e}")),
                    },
                    Some(Ok(Message::Close(_))) | None => return End::Dropped("closed by the server".into()),
                    Some(Ok(_)) => None,
                    Some(Err(e)) => return End::Dropped(e.to_string()),
                },
                _ = beat.tick(), if !self.stalled => Some(msg::heartbeat()),
            };
            if let Some(f) = frame
                && let Err(e) = ws.send(Message::Binary(f.into())).await
            {
                return End::Dropped(e.to_string());
            }
        }
    }

    /// Where each followed conversation resumes from, in a stable order.
    fn resume_points(&self) -> impl Iterator<Item = (&str, u64)> {
        let mut points: Vec<(&str, u64)> = self
            .convs
            .iter()
            .map(|(c, seq)| (c.as_str(), *seq))
            .collect();
        points.sort_unstable();
        points.into_iter()
    }

    /// The next numbered message of a shopper's conversation.
    fn next_message(&mut self, intended: u64) -> Option<Vec<u8>> {
        let conv = self.conversation.get()?.clone();
        let mut st = self.state();
        st.status.sent += 1;
        let k = st
            .outboxes
            .entry(key(&conv, Dir::ToAgent))
            .or_default()
            .next(intended);
        Some(msg::send(&conv, msg::client_msg_id(&conv, k), k, intended))
    }

    /// Handles one server frame; returns a frame to send in answer, if any.
    fn on_frame(&mut self, kind: Out) -> Option<Vec<u8>> {
        let now = now_ns();
        match kind {
            Out::Ack(a) => {
                self.on_ack(a, now);
                None
            }
            Out::Message(m) => self.on_message(m, now),
            Out::Event(e) => self.on_event(e, now),
            Out::Error(e) => {
                self.state().error(format!("{:?}: {}", e.code(), e.message));
                None
            }
            _ => None,
        }
    }

    fn on_ack(&mut self, a: pb::Ack, now: u64) {
        let mut st = self.shared.state.lock().expect("state lock");
        if a.client_msg_id == msg::OPENING {
            let Some(intended) = self.opening.take() else {
                st.status.errors += 1; // a second ack for the opening message
                return;
            };
            let conv = a.conversation_id;
            let out = st.outboxes.entry(key(&conv, Dir::ToAgent)).or_default();
            let k = out.next(intended);
            out.ack(k);
            st.status.acked += 1;
            st.record("ack", intended, now);
            st.opened.insert(conv.clone(), intended);
            self.convs.entry(conv.clone()).or_insert(0);
            let _ = self.conversation.set(conv);
            return;
        }
        let Some((conv, k)) = msg::parse_client_msg_id(&a.client_msg_id) else {
            st.error(format!("ack for an unknown id {}", a.client_msg_id));
            return;
        };
        let dir = self.dir_out();
        if let Some(intended) = st.outboxes.entry(key(conv, dir)).or_default().ack(k) {
            st.status.acked += 1;
            st.record(
                if dir == Dir::ToAgent {
                    "ack"
                } else {
                    "ack_agent"
                },
                intended,
                now,
            );
        }
    }

    fn on_message(&mut self, m: pb::Message, now: u64) -> Option<Vec<u8>> {
        if let Some(seq) = self.convs.get_mut(&m.conversation_id) {
            *seq = (*seq).max(m.seq);
        }
        let from = m.sender.as_ref().map(|s| s.role());
        let (expected, dir, hist) = match self.who {
            Who::Shopper { .. } => (pb::Role::Agent, Dir::ToShopper, "to_shopper"),
            Who::Agent(_) => (pb::Role::Shopper, Dir::ToAgent, "to_agent"),
        };
        if from != Some(expected) {
            return None; // our own echo, a system line, a bot
        }
        let (k, intended) = msg::numbered(&m)?;
        let conv = m.conversation_id;
        let mut st = self.shared.state.lock().expect("state lock");
        if !st.inboxes.entry(key(&conv, dir)).or_default().arrive(k) {
            return None;
        }
        st.status.delivered += 1;
        st.record(
            if self.was_stalled {
                "to_stalled_agent"
            } else {
                hist
            },
            intended,
            now,
        );
        // Agents answer every n-th message, sent at once (intended = now).
        let every = self.shared.reply_every.load(Ordering::Relaxed);
        if dir == Dir::ToAgent && every > 0 && k % u64::from(every) == 0 {
            st.status.sent += 1;
            let r = st
                .outboxes
                .entry(key(&conv, Dir::ToShopper))
                .or_default()
                .next(now);
            return Some(msg::send(&conv, msg::client_msg_id(&conv, r), r, now));
        }
        None
    }

    fn on_event(&mut self, e: pb::ConversationEvent, now: u64) -> Option<Vec<u8>> {
        let Who::Agent(me) = &self.who else {
            return None;
        };
        match e.kind? {
            Ev::Queued(_) => {
                let mut st = self.state();
                let unix_us = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as u64);
                st.queued_heard
                    .entry(e.conversation_id)
                    .or_default()
                    .add(Heard {
                        agents: 1,
                        last_ns: now,
                        since_event_us: unix_us.saturating_sub(e.at_ms as u64 * 1000),
                    });
                None
            }
            Ev::Offered(o) if o.agent_id == me.id => Some(msg::accept(&e.conversation_id)),
            Ev::Assigned(a) if a.agent.as_ref().is_some_and(|p| p.id == me.id) => {
                if self.convs.contains_key(&e.conversation_id) {
                    return None;
                }
                self.convs.insert(e.conversation_id.clone(), 0);
                self.state().status.assigned += 1;
                // Everything written before we took it (the opening message) comes by resume.
                Some(msg::resume(&e.conversation_id, 0))
            }
            _ => None,
        }
    }
}
