//! A scripted client of kefu's WebSocket gateway speaking the protobuf contract — a shopper,
//! an agent or a bot, depending on the path it connects to — and the helpers tests build and
//! read messages with.

use std::{net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use kefu_proto::v1::{self as pb, client_envelope::Kind as In, server_envelope::Kind as Out};
use prost::Message as _;
use tokio::{net::TcpStream, time::error::Elapsed};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::WAIT;

/// A WebSocket client speaking the protobuf contract.
pub struct Ws {
    /// The socket itself, for tests that send or read raw frames.
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The server's `Hello`, read by [`Ws::connect`].
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
    /// Opens `/ws/{kind}` (`shopper`, `agent` or `bot`) and waits for the server's `Hello`.
    pub async fn connect(addr: SocketAddr, kind: &str, token: &str, origin: Option<&str>) -> Self {
        Self::try_connect(addr, kind, token, origin)
            .await
            .unwrap_or_else(|e| panic!("{kind} socket should connect: {e}"))
    }

    /// Like [`Ws::connect`], but a refused upgrade (e.g. 503 while the server cannot reach
    /// its database) or a socket closed before `Hello` is an error.
    pub async fn try_connect(
        addr: SocketAddr,
        kind: &str,
        token: &str,
        origin: Option<&str>,
    ) -> Result<Self, String> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_request(addr, kind, token, origin))
            .await
            .map_err(|e| e.to_string())?;
        let mut me = Self {
            ws,
            hello: pb::Hello::default(),
        };
        loop {
            match me.next_within(WAIT).await {
                Ok(Some(Out::Hello(h))) => {
                    me.hello = h;
                    return Ok(me);
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err("closed before Hello".into()),
                Err(_) => return Err("no Hello within the wait time".into()),
            }
        }
    }

    /// Sends one client envelope.
    pub async fn send(&mut self, kind: In) {
        let frame = pb::ClientEnvelope { kind: Some(kind) }.encode_to_vec();
        self.ws.send(Message::Binary(frame.into())).await.unwrap();
    }

    /// Sends a frame as is (e.g. a malformed one).
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
        self.next_within(WAIT)
            .await
            .expect("a frame within the wait time")
    }

    /// The next server frame within `wait` (`Ok(None)`: the socket closed or failed).
    pub async fn next_within(&mut self, wait: Duration) -> Result<Option<Out>, Elapsed> {
        loop {
            match tokio::time::timeout(wait, self.ws.next()).await? {
                Some(Ok(Message::Binary(b))) => {
                    return Ok(Some(
                        pb::ServerEnvelope::decode(b)
                            .expect("server frames decode")
                            .kind
                            .expect("kind set"),
                    ));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(None),
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

    /// Says this side started typing in `conv`.
    pub async fn typing(&mut self, conv: &str) {
        self.send(In::Typing(pb::Typing {
            conversation_id: conv.into(),
            typing: true,
            who: None,
        }))
        .await
    }

    /// Says this side read `conv` up to `seq`.
    pub async fn read_up_to(&mut self, conv: &str, seq: u64) {
        self.send(In::Read(pb::ReadReceipt {
            conversation_id: conv.into(),
            up_to_seq: seq,
            who: None,
        }))
        .await
    }

    /// Waits for the other side's typing indicator.
    pub async fn recv_typing(&mut self) -> pb::Typing {
        self.recv_until(|k| match k {
            Out::Typing(t) => Some(t.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for the other side's read receipt.
    pub async fn recv_read(&mut self) -> pb::ReadReceipt {
        self.recv_until(|k| match k {
            Out::Read(r) => Some(r.clone()),
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

    /// Reads until the server says goodbye; returns its code (panics on an unknown one).
    pub async fn go_away_code(&mut self) -> pb::GoAwayCode {
        self.recv_until(|k| match k {
            Out::GoAway(g) => {
                Some(pb::GoAwayCode::try_from(g.code as i32).expect("a known GoAway code"))
            }
            _ => None,
        })
        .await
    }

    /// Sends a heartbeat and returns every frame received before its echo: all the server
    /// had queued for this socket before it read the heartbeat. A test that waited for an
    /// ack (sent after the message was queued for every recipient) can so show that a
    /// frame was *not* delivered here, without sleeping.
    pub async fn frames_until_heartbeat(&mut self, at_ms: i64) -> Vec<Out> {
        self.send(In::Heartbeat(pb::Heartbeat { at_ms })).await;
        let mut seen = Vec::new();
        loop {
            match self.next().await.expect("socket open while waiting") {
                Out::Heartbeat(h) if h.at_ms == at_ms => return seen,
                other => seen.push(other),
            }
        }
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

/// A text message body.
pub fn text_body(text: &str) -> pb::MessageBody {
    pb::MessageBody {
        kind: Some(pb::message_body::Kind::Text(pb::Text { text: text.into() })),
    }
}

/// A private note's body (agents only).
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
